package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// TestBenchCapRecorderLearn: the learn-mode cost of the capability
// recorder on a realistic workload (httpdWorkload: busybox httpd and 300
// wget requests, a fork and exec each, as root), through confined and
// confine-runc with process_events = "bpf": one confined with the
// recorder, one without (capability_recorder = false), both running, runs
// interleaved; the workload's time, and the confined CPU spent over the
// runs. Run: CONFINE_BENCH=1 go test -run TestBenchCapRecorderLearn -v ./bench/
func TestBenchCapRecorderLearn(t *testing.T) {
	requireBench(t)
	type side struct {
		name string
		bed  *e2e.Bed
		pid  int
		runs []time.Duration
		cpu  time.Duration
	}
	var sides []*side
	for _, s := range []struct{ name, config string }{{"learn, bpf events + capability recorder", ""}, {"learn, bpf events, no recorder", "capability_recorder = false"}} {
		bed := e2e.NewBed(t)
		bed.WriteConfig(t, "process_events = \"bpf\"\n"+s.config)
		bed.WriteProfile(t, "capweb", "apiVersion: confine/v1\nname: capweb\nmode: learn\nselector:\n  labels: {app: capweb}\n")
		c := bed.StartConfined(t)
		sides = append(sides, &side{name: s.name, bed: bed, pid: c.Cmd.Process.Pid})
	}
	run := func(s *side) time.Duration {
		return timedRun(t, s.bed, s.name, testbed.RunOptions{Runtime: s.bed.Runc, Args: []string{"sh", "-c", httpdWorkload}, Labels: map[string]string{"app": "capweb"}})
	}
	for _, s := range sides {
		run(s) // the first learn run logs every syscall: not timed
	}
	n := trials(7)
	for i := 0; i < n; i++ {
		for _, s := range sides {
			c0, _ := procUsage(t, s.pid)
			s.runs = append(s.runs, run(s))
			c1, _ := procUsage(t, s.pid)
			s.cpu += c1 - c0
		}
	}
	base := summarize(sides[1].runs).p50
	fmt.Printf("\n## Capability recorder in learn mode: busybox httpd serving 300 wget requests (median of %d, interleaved)\n\n", n)
	fmt.Printf("| run | median | ratio | confined CPU per run |\n|---|---|---|---|\n")
	for _, s := range sides {
		m := summarize(s.runs).p50
		fmt.Printf("| %s | %s | %.3f | %s |\n", s.name, m.Round(time.Millisecond), float64(m)/float64(base), (s.cpu / time.Duration(n)).Round(time.Millisecond))
	}
}
