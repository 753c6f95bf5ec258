package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// TestBenchEventSources compares confined's process event sources side by
// side, same binary, one run: confined's CPU per exec inside a watched
// container (an exec loop), confined's CPU while the host outside any
// container runs an exec loop, and events lost, each over a window.
// Run: CONFINE_BENCH=1 go test -run TestBenchEventSources -v ./bench/
func TestBenchEventSources(t *testing.T) {
	requireBench(t)
	window := 20 * time.Second
	fmt.Printf("\n## Process event sources: confined CPU (%s windows)\n\n", window)
	fmt.Printf("| source | exec loop in a watched container: execs/s seen | confined CPU per exec | events lost | host exec loop (no container): host forks/s | confined CPU share |\n|---|---|---|---|---|---|\n")
	for _, src := range []string{"bpf", "proc_connector"} {
		bed := e2e.NewBed(t)
		bed.WriteConfig(t, fmt.Sprintf("process_events = %q", src))
		bed.WriteProfile(t, "loop", "apiVersion: confine/v1\nname: loop\nmode: enforce\nexec:\n  allow: [\"/bin/busybox\"]\n")
		c := bed.StartConfined(t)
		pid := c.Cmd.Process.Pid
		scrape := func(metric string) float64 { return bed.Metric(t, metric) }
		// In a watched container.
		r, err := bed.Start(context.Background(), testbed.RunOptions{ID: testbed.UniqueID("loop"), Runtime: bed.Runc, Args: []string{"sh", "-c", "while :; do /bin/true; done"}, Labels: map[string]string{"confine.profile": "loop"}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		c0, _ := procUsage(t, pid)
		e0, l0 := scrape("confine_process_events_total"), scrape("confine_process_events_lost_total")
		time.Sleep(window)
		c1, _ := procUsage(t, pid)
		e1, l1 := scrape("confine_process_events_total"), scrape("confine_process_events_lost_total")
		r.Close()
		// An exec is a fork, an exec and an exit event with bpf; with the
		// proc connector the counter counts fork, exec and uid/gid events.
		execs := (e1 - e0) / 2
		if src == "bpf" {
			execs = (e1 - e0) / 3
		}
		perExec := time.Duration(0)
		if execs > 0 {
			perExec = (c1 - c0) / time.Duration(execs)
		}
		// On the host, one idle watched container.
		idle, err := bed.Start(context.Background(), testbed.RunOptions{ID: testbed.UniqueID("idle"), Runtime: bed.Runc, Args: []string{"sleep", "600"}, Labels: map[string]string{"confine.profile": "loop"}})
		if err != nil {
			t.Fatal(err)
		}
		loop := exec.Command("sh", "-c", "n=0; while :; do /bin/true; n=$((n+1)); done")
		loop.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := loop.Start(); err != nil {
			t.Fatal(err)
		}
		h0, _ := procUsage(t, pid)
		forks0 := hostForks(t)
		time.Sleep(window)
		h1, _ := procUsage(t, pid)
		forks1 := hostForks(t)
		syscall.Kill(-loop.Process.Pid, syscall.SIGKILL)
		loop.Wait()
		idle.Close()
		fmt.Printf("| %s | %.0f | %s | %.0f | %.0f | %.2f%% |\n", src, execs/window.Seconds(), perExec.Round(time.Microsecond), l1-l0,
			float64(forks1-forks0)/window.Seconds(), 100*float64(h1-h0)/float64(window))
	}
}

// hostForks is the number of forks since boot (/proc/stat "processes"):
// its growth over a window counts the forks of the whole host. (The last
// PID of /proc/loadavg wraps at pid_max and went negative.)
func hostForks(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "processes "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("/proc/stat processes %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("/proc/stat has no processes line")
	return 0
}
