package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// TestBenchStart: `ctr run --rm … true` through runc and through
// confine-runc with confined deciding (decide round trip, hooks, the
// daemon registering the container), without and with a seccomp filter.
// The variants are interleaved so that load on the machine hits them alike.
func TestBenchStart(t *testing.T) {
	requireBench(t)
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "plain", "apiVersion: confine/v1\nname: plain\nmode: enforce\nselector:\n  labels: {bench: plain}\nexec:\n  allow: [\"/bin/busybox\"]\n")
	bed.WriteProfile(t, "base", "apiVersion: confine/v1\nname: base\nmode: enforce\nselector:\n  labels: {bench: base}\nseccomp:\n  base: docker-default\nexec:\n  allow: [\"/bin/busybox\"]\n")
	bed.StartConfined(t)
	runc := testbed.RuncPath()
	variants := []struct {
		name string
		args []string
	}{
		{"runc", []string{"--runc-binary", runc}},
		{"confine-runc + confined, profile without seccomp", []string{"--runc-binary", bed.Runc, "--label", "bench=plain"}},
		{"runc --seccomp (containerd's default filter)", []string{"--runc-binary", runc, "--seccomp"}},
		{"confine-runc + confined, Docker's default filter", []string{"--runc-binary", bed.Runc, "--label", "bench=base"}},
	}
	runs := trials(40)
	times := make([][]time.Duration, len(variants))
	for i := 0; i < runs; i++ {
		for v, vr := range variants {
			args := append([]string{"run", "--rm"}, vr.args...)
			args = append(args, bed.ImageRef, testbed.UniqueID("st"), "true")
			start := time.Now()
			if _, se, err := bed.Ctr(args...); err != nil {
				t.Fatalf("%s: %v %s", vr.name, err, se)
			}
			times[v] = append(times[v], time.Since(start))
		}
	}
	if got := bed.Alerts(t); len(got) != 0 {
		t.Fatalf("alerts while starting allowed containers: %v", got)
	}
	ms := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
	fmt.Printf("\n## Container start: `ctr run --rm … true`, %d starts each (interleaved)\n\n", runs)
	fmt.Printf("| runtime | median | p95 | ratio (median) |\n|---|---|---|---|\n")
	st := make([]stats, len(variants))
	for v := range variants {
		st[v] = summarize(times[v])
	}
	for v, vr := range variants {
		ref := st[0].p50
		if v >= 2 {
			ref = st[2].p50
		}
		fmt.Printf("| %s | %s | %s | %.2f |\n", vr.name, ms(st[v].p50), ms(st[v].p95), float64(st[v].p50)/float64(ref))
	}
	fmt.Printf("\nratios: confine-runc rows against the runc row above them (same filter or none).\n")
}
