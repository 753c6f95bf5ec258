package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// TestTenThousandIdenticalViolations: 10,000 identical violations in
// monitor mode (a syscall the profile denies, seen through the seccomp
// notify listener) become a bounded number of alert records whose counts
// add up to exactly 10,000.
func TestTenThousandIdenticalViolations(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "noisy", "apiVersion: confine/v1\nname: noisy\nmode: monitor\nseccomp:\n  base: docker-default\n  deny: [mkdir, mkdirat]\n")
	c := bed.StartConfined(t)
	id := testbed.UniqueID("noisy")
	const n = 10000
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do mkdir /tmp/a 2>/dev/null; i=$((i+1)); done; echo finished`, n)
	began := time.Now()
	res, err := bed.Run(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", script}, Labels: map[string]string{"confine.profile": "noisy"}, Timeout: 3 * time.Minute})
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("workload: %v %+v", err, res)
	}
	// Stopping confined reports the counts still in an aggregation window.
	c.Stop(t)
	// Each aggregation window (internal/daemon's aggregateWindow, 10 s) gives
	// at most two records: the first alert and the count of its repeats. The
	// bound follows the time the workload really took, so a loaded machine
	// that stretches the run over more windows is no failure; unbounded
	// reporting (a record per violation) still is.
	const window = 10 * time.Second
	bound := 2 * (int(time.Since(began)/window) + 2)
	total, records := 0, 0
	for _, a := range bed.FindAlerts(t, map[string]string{"container_id": id, "rule": "seccomp"}) {
		if a["syscall"] != "mkdir" && a["syscall"] != "mkdirat" {
			continue
		}
		records++
		cnt := 1
		if v, ok := a["count"]; ok {
			cnt, _ = strconv.Atoi(fmt.Sprint(v))
		}
		total += cnt
	}
	t.Logf("%d violations reported in %d records", total, records)
	if total != n {
		t.Fatalf("counts add up to %d, want %d", total, n)
	}
	if records > bound {
		t.Fatalf("%d records for %d identical violations in %s: not bounded (at most %d)", records, n, time.Since(began).Round(time.Second), bound)
	}
}
