package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// filesProfile restricts execs, reads and writes: in enforce mode it gets
// Landlock (confine-init) and the fanotify guard, unless one is turned off.
const filesProfile = `apiVersion: confine/v1
name: NAME
mode: enforce
selector:
  labels: {bench: NAME}
exec:
  allow: ["/bin/busybox", "/bench/openloop"]
files:
  read: ["/bin/**", "/etc/**", "/bench/**", "/proc/**", "/dev/**", "/www/**", "/sys/kernel/mm/transparent_hugepage/**"]
  write: ["/tmp/**"]
onViolation: alert
`

// noRulesProfile is enforce without file or exec rules: neither Landlock
// nor the guard.
const noRulesProfile = `apiVersion: confine/v1
name: plain
mode: enforce
selector:
  labels: {bench: plain}
onViolation: alert
`

// httpdUptime is httpdWorkload timed with /proc/uptime (10 ms ticks over
// a run of about a second).
var httpdUptime = strings.Replace(httpdWorkload,
	`now() { adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d%06d\n", s, u}'; }`,
	`now() { awk '{printf "%.0f\n", $1*1000000}' /proc/uptime; }`, 1)

// TestBenchFileLayers puts the file layers side by side, through confined
// and confine-runc: the mean cost of one open+close (1000 files, 5 rounds)
// and of one fork+exec+wait of busybox inside a container (openloop, run
// by `ctr task exec`), with no file layer, with Landlock only (the guard
// off: fanotify_guard = false) and with the fanotify guard only (landlock =
// false); then the httpd workload under the same three against an
// unconfined run.
func TestBenchFileLayers(t *testing.T) {
	requireBench(t)
	if httpdUptime == httpdWorkload {
		t.Fatal("httpdUptime: the workload's clock was not replaced")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "openloop"), "../monitor/fanotify/testdata/openloop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building openloop: %v\n%s", err, out)
	}
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "plain", noRulesProfile)
	bed.WriteProfile(t, "files", strings.ReplaceAll(filesProfile, "NAME", "files"))
	runs := trials(5)
	type row struct {
		name, label, config string
	}
	rows := []row{
		{"no file layer (enforce, no file or exec rules)", "plain", ""},
		{"Landlock (confine-init), guard off", "files", "fanotify_guard = false\n"},
		{"fanotify guard, landlock = false", "files", "landlock = false\n"},
	}
	ctx := context.Background()
	type result struct {
		open, exec []float64
		httpd      []time.Duration
	}
	results := make([]result, len(rows))
	var unconf []time.Duration
	for i, rw := range rows {
		bed.WriteConfig(t, rw.config)
		c := bed.StartConfined(t)
		r, err := bed.Start(ctx, testbed.RunOptions{ID: testbed.UniqueID("fl"), Runtime: bed.Runc, Args: []string{"sleep", "3600"},
			Labels: map[string]string{"bench": rw.label},
			Mounts: []testbed.Mount{{Source: bin, Destination: "/bench", ReadOnly: true}}})
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k <= runs; k++ {
			res, err := r.Exec(ctx, "/bench/openloop", "-dir", "/tmp/openloop", "-files", "1000", "-rounds", "5", "-execs", "50")
			if err != nil || res.ExitStatus != 0 {
				t.Fatalf("%s: openloop: %v %+v", rw.name, err, res)
			}
			var o, e float64
			if _, err := fmt.Sscanf(strings.TrimSpace(res.Stdout), "open %g exec %g", &o, &e); err != nil {
				t.Fatalf("openloop output %q: %v", res.Stdout, err)
			}
			if k > 0 { // the first run warms caches
				results[i].open = append(results[i].open, o)
				results[i].exec = append(results[i].exec, e)
			}
		}
		r.Close()
		for k := 0; k < runs; k++ {
			if i == 0 {
				unconf = append(unconf, timedRun(t, bed, "unconfined", testbed.RunOptions{Args: []string{"sh", "-c", httpdUptime}}))
			}
			results[i].httpd = append(results[i].httpd, timedRun(t, bed, rw.name, testbed.RunOptions{Runtime: bed.Runc, Args: []string{"sh", "-c", httpdUptime}, Labels: map[string]string{"bench": rw.label}}))
		}
		if got := bed.FindAlerts(t, map[string]string{"container_id": r.ID, "action": "denied"}); len(got) > 0 {
			t.Errorf("%s: the workload was refused something: %v", rw.name, got[0])
		}
		c.Stop(t)
	}
	median := func(fs []float64) float64 {
		ds := make([]time.Duration, len(fs))
		for i, f := range fs {
			ds[i] = time.Duration(f)
		}
		return float64(summarize(ds).p50)
	}
	fmt.Printf("\n## File layers: cost per open and per exec inside a container, and httpd (median of %d)\n\n", runs)
	fmt.Printf("| layer | ns per open+close | ratio | ns per fork+exec+wait | ratio | httpd median | ratio to unconfined |\n|---|---|---|---|---|---|---|\n")
	base := summarize(unconf).p50
	fmt.Printf("| unconfined (runc, httpd only) | | | | | %v | 1.00 |\n", base.Round(time.Millisecond))
	o0, e0 := median(results[0].open), median(results[0].exec)
	for i, rw := range rows {
		o, e, h := median(results[i].open), median(results[i].exec), summarize(results[i].httpd).p50
		fmt.Printf("| %s | %.0f | %.2f | %.0f | %.2f | %v | %.2f |\n", rw.name, o, o/o0, e, e/e0, h.Round(time.Millisecond), float64(h)/float64(base))
	}
}
