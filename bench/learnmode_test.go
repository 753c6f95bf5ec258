package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// TestBenchLearnMode measures a syscall-heavy loop through the real path
// (confined + confine-runc): unconfined, learn mode (first run, then with
// the learned set known), and enforce with the promoted profile.
func TestBenchLearnMode(t *testing.T) {
	requireBench(t)
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "lb", "apiVersion: confine/v1\nname: lb\nmode: learn\nselector:\n  labels: {app: lb}\n")
	c := bed.StartConfined(t)
	// 400,000 read/write syscalls plus a mix of others (stat, open,
	// getdents) that learn mode logs until they are known.
	workload := nowNS + `; s=$(now); dd if=/dev/zero of=/dev/null bs=1 count=200000 2>/dev/null; i=0; while [ $i -lt 300 ]; do ls / >/dev/null; stat /etc/passwd >/dev/null; i=$((i+1)); done; e=$(now); echo $((e-s))`
	run := func(name string, runtime string, labels map[string]string) time.Duration {
		return timedRun(t, bed, name, testbed.RunOptions{Runtime: runtime, Args: []string{"sh", "-c", workload}, Labels: labels})
	}
	learn := map[string]string{"app": "lb"}
	runs := trials(5)
	var unconf []time.Duration
	for i := 0; i < runs; i++ {
		unconf = append(unconf, run("unconfined", "", nil))
	}
	first, second, enforce := learnAndEnforce(t, bed, "lb", runs, func(name string) time.Duration { return run(name, bed.Runc, learn) })
	base := summarize(unconf).p50
	fmt.Printf("\n## Learn mode overhead: 400,000 read/write + 600 ls/stat in a container (median of %d; first learn run once)\n\n", runs)
	fmt.Printf("| run | median | ratio to unconfined |\n|---|---|---|\n")
	for _, r := range []struct {
		name string
		ds   []time.Duration
	}{{"unconfined (runc, no filter)", unconf}, {"learn, first run (everything unknown is logged)", first}, {"learn, learned set known", second}, {"enforce, promoted profile (seccomp allowlist + fanotify guard on exec)", enforce}} {
		m := summarize(r.ds).p50
		fmt.Printf("| %s | %s | %.2f |\n", r.name, m.Round(time.Millisecond), float64(m)/float64(base))
	}
	_ = c
}

// learnAndEnforce runs a workload under a learn-mode profile once (first),
// runs more times with the learned set known, promotes the profile to
// enforce and runs again; the promoted profile must raise no alert.
func learnAndEnforce(t *testing.T, bed *e2e.Bed, profile string, runs int, run func(name string) time.Duration) (first, known, enforce []time.Duration) {
	t.Helper()
	first = append(first, run("learn, first run"))
	time.Sleep(time.Second) // the learned set is flushed on the rescan tick
	for i := 0; i < runs; i++ {
		known = append(known, run("learn, known set"))
	}
	time.Sleep(time.Second)
	if out, se, code := bed.Ctl(t, "profile", "promote", profile, "--mode", "enforce"); code != 0 {
		t.Fatalf("promote: %s %s", out, se)
	}
	time.Sleep(time.Second)
	for i := 0; i < runs; i++ {
		enforce = append(enforce, run("enforce"))
	}
	if got := bed.FindAlerts(t, map[string]string{"profile": profile, "mode": "enforce"}); len(got) != 0 {
		t.Fatalf("the promoted profile raised alerts on the learned workload: %v", got)
	}
	return first, known, enforce
}

// timedRun runs a workload that prints its own duration in nanoseconds
// and returns that duration.
func timedRun(t *testing.T, bed *e2e.Bed, name string, opts testbed.RunOptions) time.Duration {
	t.Helper()
	opts.ID, opts.Timeout = testbed.UniqueID("bench"), 5*time.Minute
	res, err := bed.Run(context.Background(), opts)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("%s: %v %+v", name, err, res)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(res.Stdout), 10, 64)
	if err != nil {
		t.Fatalf("%s: output %q", name, res.Stdout)
	}
	return time.Duration(ns)
}
