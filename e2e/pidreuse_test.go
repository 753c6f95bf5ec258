package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// TestPIDReuse: a process of container A execs a forbidden binary and is
// gone before confined reads the exec event; its PID now belongs to an
// allowed process of container B. confined must judge neither B nor A by
// the newcomer: B keeps running, no alert names B's process. The delay is
// made real by stopping confined (SIGSTOP) while the kernel queues its
// events, and the PID is handed over with /proc/sys/kernel/ns_last_pid.
// The fanotify guard is off: it would deny A's exec before it happens.
func TestPIDReuse(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "pra", "apiVersion: confine/v1\nname: pra\nmode: enforce\nexec:\n  allow: [\"/bin/busybox\"]\nonViolation: kill\n")
	bed.WriteProfile(t, "prb", "apiVersion: confine/v1\nname: prb\nmode: enforce\nexec:\n  allow: [\"/bin/busybox\", \"/tmp/b/**\"]\nonViolation: kill\n")
	c := bed.StartConfined(t, "CONFINE_NO_FANOTIFY=1")
	stopped := false
	t.Cleanup(func() {
		if stopped {
			_ = c.Cmd.Process.Signal(syscall.SIGCONT)
		}
	})

	shared := filepath.Join(bed.Dir, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a", "a2", "b"} {
		if err := unix.Mkfifo(filepath.Join(shared, f), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	mount := []testbed.Mount{{Source: shared, Destination: "/shared"}}
	// A: each line on /shared/a forks a subshell that waits for /shared/a2,
	// then execs a copy of busybox its profile does not allow. (A SIGCHLD
	// interrupts the shell's open of the FIFO: hence "|| continue".)
	idA, idB := testbed.UniqueID("pra"), testbed.UniqueID("prb")
	ra, err := bed.Start(context.Background(), testbed.RunOptions{ID: idA, Runtime: bed.Runc, Mounts: mount,
		Labels: map[string]string{"confine.profile": "pra"},
		Args: []string{"sh", "-c", `mkdir -p /tmp/a && cp /bin/busybox /tmp/a/busybox
while :; do read x < /shared/a || continue; ( read y < /shared/a2; exec /tmp/a/busybox sleep 600 ) & done`}})
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	// B: each line on /shared/b forks a process running a copy of busybox
	// its profile allows.
	rb, err := bed.Start(context.Background(), testbed.RunOptions{ID: idB, Runtime: bed.Runc, Mounts: mount,
		Labels: map[string]string{"confine.profile": "prb"},
		Args: []string{"sh", "-c", `mkdir -p /tmp/b && cp /bin/busybox /tmp/b/busybox
while :; do read x < /shared/b || continue; /tmp/b/busybox sleep 600 & done`}})
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	waitWatched(t, c, bed.Namespace, idA)
	waitWatched(t, c, bed.Namespace, idB)

	var reused procID
	for round := 1; round <= 5 && reused.pid == 0; round++ {
		// The subshell is forked while confined runs: it knows the PID
		// as A's from the fork event.
		before := containerProcs(t, idA)
		fifoLine(t, filepath.Join(shared, "a"))
		sub := waitNewProc(t, idA, before, "")
		time.Sleep(300 * time.Millisecond) // confined reads the fork event

		if err := c.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		stopped = true
		fifoLine(t, filepath.Join(shared, "a2"))
		victim := waitExe(t, sub, "/tmp/a/busybox")
		time.Sleep(50 * time.Millisecond) // several clock ticks between the exec and the next process
		killAndReap(t, victim)

		// Hand victim.pid to B's next process; another process of the host
		// may take it first, then try again.
		for try := 0; try < 30; try++ {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", victim.pid)); err == nil {
				break // taken by someone else: next round
			}
			beforeB := containerProcs(t, idB)
			if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(victim.pid-1)), 0o644); err != nil {
				t.Fatal(err)
			}
			fifoLine(t, filepath.Join(shared, "b"))
			got := waitNewProc(t, idB, beforeB, "/tmp/b/busybox")
			if got.pid == victim.pid {
				reused = got
				break
			}
		}
		if err := c.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		stopped = false
		if reused.pid == 0 {
			t.Logf("round %d: pid %d was not handed to B; trying again", round, victim.pid)
		}
	}
	if reused.pid == 0 {
		t.Fatal("could not make B's process take the PID of A's in 5 rounds")
	}
	t.Logf("pid %d: A's /tmp/a/busybox, then B's /tmp/b/busybox (start %d)", reused.pid, reused.start)

	// A sentinel after the reuse: A execs the forbidden binary again and
	// is killed for it. Events are read in order, so once its alert is
	// out, the stale exec event has been judged.
	if err := writeFifo(filepath.Join(shared, "a")); err != nil {
		t.Fatalf("A is not there for the sentinel (%v); alerts: %v", err, bed.Alerts(t))
	}
	time.Sleep(300 * time.Millisecond)
	fifoLine(t, filepath.Join(shared, "a2"))
	a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": idA, "event": "kill", "rule": "exec"})
	if fmt.Sprint(a["exe"]) != "/tmp/a/busybox" || fmt.Sprint(a["pid"]) == strconv.Itoa(reused.pid) {
		t.Errorf("A's kill names exe %v pid %v; want /tmp/a/busybox of a process other than %d", a["exe"], a["pid"], reused.pid)
	}
	if got := bed.FindAlerts(t, map[string]string{"container_id": idB}); len(got) != 0 {
		t.Errorf("alerts about B, whose process only took over a PID: %v", got)
	}
	for _, al := range bed.Alerts(t) {
		if fmt.Sprint(al["exe"]) == "/tmp/b/busybox" {
			t.Errorf("an alert names B's executable: %v", al)
		}
	}
	if st, ok := startTime(reused.pid); !ok || st != reused.start {
		t.Errorf("B's process %d is gone", reused.pid)
	}
	if _, exited := waitExit(t, rb, time.Second); exited {
		t.Error("B was killed")
	}
}

// procID is a process in the host's PID namespace.
type procID struct {
	pid   int
	start uint64
}

// containerProcs lists the host processes whose cgroup names the container.
func containerProcs(t *testing.T, id string) map[procID]bool {
	t.Helper()
	out := map[procID]bool{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil || !strings.Contains(string(cg), id) {
			continue
		}
		if st, ok := startTime(pid); ok {
			out[procID{pid, st}] = true
		}
	}
	return out
}

// waitNewProc waits for a process of the container that is not in before
// (and, when exe is set, runs exe).
func waitNewProc(t *testing.T, id string, before map[procID]bool, exe string) procID {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for p := range containerProcs(t, id) {
			if before[p] {
				continue
			}
			if exe == "" {
				return p
			}
			if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.pid)); got == exe {
				return p
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no new process in %s running %q", id, exe)
	return procID{}
}

// waitExe waits until p runs exe.
func waitExe(t *testing.T, p procID, exe string) procID {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.pid)); got == exe {
			if st, ok := startTime(p.pid); ok && st == p.start {
				return p
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("process %d never ran %s", p.pid, exe)
	return procID{}
}

// killAndReap kills p through a pidfd checked against its start time and
// waits until its parent has reaped it.
func killAndReap(t *testing.T, p procID) {
	t.Helper()
	fd, err := unix.PidfdOpen(p.pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if st, ok := startTime(p.pid); !ok || st != p.start {
		t.Fatalf("process %d changed before the kill", p.pid)
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.pid)); err != nil {
			return
		}
		if st, ok := startTime(p.pid); ok && st != p.start {
			return // reaped, and taken already
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("process %d not reaped", p.pid)
}

// startTime reads field 22 of /proc/PID/stat.
func startTime(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}

// fifoLine writes one line to a FIFO once a container has it open for
// reading (a FIFO keeps no data without a reader).
func fifoLine(t *testing.T, path string) {
	t.Helper()
	if err := writeFifo(path); err != nil {
		t.Fatal(err)
	}
}

func writeFifo(path string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			_, err = unix.Write(fd, []byte("go\n"))
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
			return nil
		}
		if err != unix.ENXIO || time.Now().After(deadline) {
			return fmt.Errorf("opening %s: %w", path, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
