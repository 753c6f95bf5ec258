package proc

import (
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestStartedAfterArithmetic(t *testing.T) {
	for _, tc := range []struct {
		ticks        uint64
		t, suspended time.Duration
		want         bool
	}{
		{ticks: 100, t: 999 * time.Millisecond, want: true},   // started at 1 s
		{ticks: 100, t: time.Second, want: false},             // same instant: can't tell
		{ticks: 100, t: 1001 * time.Millisecond, want: false}, // started before
		// Two seconds spent suspended: boot time runs ahead of monotonic.
		{ticks: 300, t: 999 * time.Millisecond, suspended: 2 * time.Second, want: true},
		{ticks: 300, t: 1500 * time.Millisecond, suspended: 2 * time.Second, want: false},
		{ticks: 0, t: 0, want: false},
	} {
		if got := startedAfter(tc.ticks, tc.t, tc.suspended); got != tc.want {
			t.Errorf("startedAfter(%d, %s, %s) = %v, want %v", tc.ticks, tc.t, tc.suspended, got, tc.want)
		}
	}
}

// TestStartedAfterRealProcess reads a real process's start time against
// CLOCK_MONOTONIC instants before and after it started.
func TestStartedAfterRealProcess(t *testing.T) {
	before := monotonic(t)
	time.Sleep(30 * time.Millisecond) // three ticks: rounding cannot hide it
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	after := monotonic(t)
	fs, err := NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	p, err := fs.Proc(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	st := p.Key().StartTime
	if !StartedAfter(st, before) {
		t.Errorf("process started at tick %d: not after %s (taken before it started)", st, before)
	}
	if StartedAfter(st, after) {
		t.Errorf("process started at tick %d: after %s (taken once it ran)", st, after)
	}
	if StartedAfter(uint64(0), before) {
		t.Error("a process started at boot is after a later instant")
	}
}

func monotonic(t *testing.T) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ts.Nano())
}
