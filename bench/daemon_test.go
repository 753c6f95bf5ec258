package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// procUsage reads a process's CPU time (user+system ticks) and RSS.
func procUsage(t *testing.T, pid int) (cpu time.Duration, rssKB int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	cpu = time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ 100
	s, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(s), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			rssKB, _ = strconv.Atoi(strings.Fields(l)[1])
		}
	}
	return cpu, rssKB
}

func counts() []int {
	out := []int{0, 50, 200}
	if v := os.Getenv("CONFINE_BENCH_CONTAINERS"); v != "" {
		out = nil
		for _, f := range strings.Split(v, ",") {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestBenchDaemonFootprint: confined's RSS and CPU with 0, 50 and 200 idle
// watched containers (each over 10 s), under churn, and in an event storm.
func TestBenchDaemonFootprint(t *testing.T) {
	requireBench(t)
	for _, bin := range benchBinaries() {
		footprint(t, bin)
	}
}

func footprint(t *testing.T, bin benchBinary) {
	bed := e2e.NewBed(t)
	bin.use(bed)
	bed.WriteProfile(t, "idle", "apiVersion: confine/v1\nname: idle\nmode: enforce\nexec:\n  allow: [\"/bin/busybox\"]\n")
	c := bed.StartConfined(t)
	pid := c.Cmd.Process.Pid
	var running []*testbed.Running
	defer func() {
		for _, r := range running {
			r.Close()
		}
	}()
	fmt.Printf("\n## %sconfined footprint (idle containers, 10 s each; churn and storm 30 s)\n\n| scenario | RSS | CPU in the window | CPU share |\n|---|---|---|---|\n", bin.label)
	measure := func(name string, window time.Duration) {
		c0, _ := procUsage(t, pid)
		time.Sleep(window)
		c1, rss := procUsage(t, pid)
		fmt.Printf("| %s | %d MiB | %s | %.1f%% |\n", name, rss/1024, (c1 - c0).Round(10*time.Millisecond), 100*float64(c1-c0)/float64(window))
	}
	for _, n := range counts() {
		for len(running) < n {
			r, err := bed.Start(context.Background(), testbed.RunOptions{ID: testbed.UniqueID("idle"), Runtime: bed.Runc, Args: []string{"sleep", "3600"}, Labels: map[string]string{"confine.profile": "idle"}})
			if err != nil {
				t.Fatalf("container %d: %v", len(running), err)
			}
			running = append(running, r)
		}
		measure(fmt.Sprintf("%d idle containers", n), 10*time.Second)
	}
	for _, r := range running {
		r.Close()
	}
	running = nil

	// Churn: containers starting and stopping continuously.
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if _, err := bed.Run(context.Background(), testbed.RunOptions{ID: testbed.UniqueID("churn"), Runtime: bed.Runc, Args: []string{"true"}, Labels: map[string]string{"confine.profile": "idle"}}); err == nil {
				n++
			}
		}
	}()
	measure("churn (containers started and stopped back to back)", 30*time.Second)
	close(stop)
	started := <-done
	fmt.Printf("\nchurn: %d containers in 30 s\n", started)

	// Event storm: a container forking and exec'ing as fast as it can.
	scrape := func(metric string) float64 { return bed.Metric(t, metric) }
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: testbed.UniqueID("storm"), Runtime: bed.Runc, Args: []string{"sh", "-c", "while :; do /bin/true; done"}, Labels: map[string]string{"confine.profile": "idle"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e0, l0, s0 := scrape("confine_process_events_total"), scrape("confine_process_events_lost_total"), scrape("confine_rescans_total")
	measure("event storm (fork+exec loop)", 30*time.Second)
	e1, l1, s1 := scrape("confine_process_events_total"), scrape("confine_process_events_lost_total"), scrape("confine_rescans_total")
	fmt.Printf("\nevent storm: %.0f events handled/s, %.0f overflows (each followed by a rescan), %.0f rescans in 30 s\n", (e1-e0)/30, l1-l0, s1-s0)
}
