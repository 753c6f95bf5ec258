package fanotify

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
)

// buildOpenloop builds testdata/openloop as a static binary.
func buildOpenloop(tb testing.TB) string {
	tb.Helper()
	testbed.RequireTools(tb, "go")
	dir := tb.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "openloop"), "./testdata/openloop")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building openloop: %v\n%s", err, out)
	}
	return dir
}

// BenchmarkGuard measures, inside a container, the mean cost of one
// open+close (1000 files, 5 rounds each) and of one fork+exec+wait of
// /bin/busybox, with no guard, with a guard that decides every event
// (cache disabled), and with a guard answering from its cache. The figures
// are the ns/open and ns/exec metrics, and ns/answer: the guard's own time
// from reading an event to answering it; ns/op is the whole exec'd run.
//
//	go test -run '^$' -bench BenchmarkGuard -benchtime 5x ./monitor/fanotify
func BenchmarkGuard(b *testing.B) {
	c := testbed.Start(b)
	bin := buildOpenloop(b)
	ctx := context.Background()
	r, err := c.Start(ctx, testbed.RunOptions{
		Args:   []string{"sleep", "3600"},
		Mounts: []testbed.Mount{{Source: bin, Destination: "/bench", ReadOnly: true}},
	})
	if err != nil {
		b.Fatal(err)
	}
	rootfs := filepath.Join(c.State, "io.containerd.runtime.v2.task", c.Namespace, r.ID, "rootfs")
	var cur *Guard
	reps := &reports{}
	logs := &testbed.SyncBuffer{}
	run := func(b *testing.B) (openNS, execNS float64) {
		b.Helper()
		res, err := r.Exec(ctx, "/bench/openloop", "-dir", "/tmp/openloop", "-files", "1000", "-rounds", "5", "-execs", "50")
		if err != nil || res.ExitStatus != 0 {
			if cur != nil {
				b.Logf("guard stats: %+v", cur.Stats())
			}
			for _, rep := range reps.all() {
				b.Logf("report: %+v", rep)
			}
			b.Logf("guard log:\n%s", logs.String())
			b.Fatalf("openloop: %v %+v", err, res)
		}
		var o, e float64
		if _, err := fmt.Sscanf(strings.TrimSpace(res.Stdout), "open %g exec %g", &o, &e); err != nil {
			b.Fatalf("openloop output %q: %v", res.Stdout, err)
		}
		return o, e
	}
	measure := func(b *testing.B, g *Guard) {
		run(b) // warm up: files exist, caches (page, dentry, guard) are hot
		var sumO, sumE float64
		var before Stats
		if g != nil {
			before = g.Stats()
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			o, e := run(b)
			sumO += o
			sumE += e
		}
		b.StopTimer()
		b.ReportMetric(sumO/float64(b.N), "ns/open")
		b.ReportMetric(sumE/float64(b.N), "ns/exec")
		if g != nil {
			st := g.Stats()
			if n := st.Allowed + st.Denied - before.Allowed - before.Denied; n > 0 {
				// Time from reading an event to answering it, inside the guard.
				b.ReportMetric(float64(st.Waited-before.Waited)/float64(n), "ns/answer")
			}
			b.Logf("guard stats: %+v", st)
		}
	}
	guard := func(b *testing.B, cache int) *Guard {
		reps.mu.Lock()
		reps.list = nil
		reps.mu.Unlock()
		p := testProfile(profiles.ModeEnforce)
		g, err := NewGuard(GuardConfig{
			ID: r.ID, Pid: int(r.Pid()), RootfsPath: rootfs,
			Decide: RulesDecider(compile(b, p), p.Mode), CacheSize: cache, Report: reps.add, Log: newLogger(logs),
		})
		if err != nil {
			b.Fatal(err)
		}
		cur = g
		b.Cleanup(func() { g.Close(); cur = nil })
		return g
	}
	b.Run("off", func(b *testing.B) { measure(b, nil) })
	b.Run("decided", func(b *testing.B) { measure(b, guard(b, -1)) })
	b.Run("cached", func(b *testing.B) { measure(b, guard(b, 0)) })
}
