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
	workload := `now() { adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d%06d\n", s, u}'; }; s=$(now); dd if=/dev/zero of=/dev/null bs=1 count=200000 2>/dev/null; i=0; while [ $i -lt 300 ]; do ls / >/dev/null; stat /etc/passwd >/dev/null; i=$((i+1)); done; e=$(now); echo $(((e-s)*1000))`
	run := func(name string, runtime string, labels map[string]string) time.Duration {
		res, err := bed.Run(context.Background(), testbed.RunOptions{ID: testbed.UniqueID("lb"), Runtime: runtime, Args: []string{"sh", "-c", workload}, Labels: labels, Timeout: 5 * time.Minute})
		if err != nil || res.ExitStatus != 0 {
			t.Fatalf("%s: %v %+v", name, err, res)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(res.Stdout), 10, 64)
		if err != nil {
			t.Fatalf("%s: output %q", name, res.Stdout)
		}
		return time.Duration(ns)
	}
	learn := map[string]string{"app": "lb"}
	runs := trials(5)
	var unconf, first, second, enforce []time.Duration
	for i := 0; i < runs; i++ {
		unconf = append(unconf, run("unconfined", "", nil))
	}
	first = append(first, run("learn, first run", bed.Runc, learn))
	time.Sleep(time.Second) // the learned set is flushed on the rescan tick
	for i := 0; i < runs; i++ {
		second = append(second, run("learn, known set", bed.Runc, learn))
	}
	time.Sleep(time.Second)
	if out, se, code := bed.Ctl(t, "profile", "promote", "lb", "--mode", "enforce"); code != 0 {
		t.Fatalf("promote: %s %s", out, se)
	}
	time.Sleep(time.Second)
	for i := 0; i < runs; i++ {
		enforce = append(enforce, run("enforce", bed.Runc, learn))
	}
	if n := len(bed.FindAlerts(t, map[string]string{"profile": "lb", "mode": "enforce"})); n != 0 {
		t.Fatalf("the promoted profile raised %d alerts on the learned workload", n)
	}
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
