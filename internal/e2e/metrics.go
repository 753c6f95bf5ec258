package e2e

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/testbed"
)

// freeAddress returns a loopback address with a port nothing listens on
// now, for confined's metrics.
func freeAddress(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Metric returns the value of a series of confined's /metrics (its name
// with labels as Prometheus prints them, e.g.
// `confine_kills_total{rule="exec"}`), 0 when it is not there yet.
func (b *Bed) Metric(t testing.TB, series string) float64 {
	t.Helper()
	if b.MetricsAddress == "" {
		t.Fatal("Bed.Metric: the test's config sets its own metrics_address")
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + b.MetricsAddress + "/metrics")
	if err != nil {
		t.Fatalf("scraping confined's metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric %s: %q: %v", series, value, err)
			}
			return v
		}
	}
	return 0
}

// WaitRescans waits until confined has run n more full /proc rescans
// (confine_rescans_total moved by n): everything running was judged
// again. A test that asserts "nothing happened" waits with it, not with a
// sleep that passes even when no rescan ran.
func (b *Bed) WaitRescans(t testing.TB, n int) {
	t.Helper()
	from := b.Metric(t, "confine_rescans_total")
	testbed.Eventually(t, testbed.Bound, func() bool { return b.Metric(t, "confine_rescans_total") >= from+float64(n) },
		"confine_rescans_total did not move by %d from %v", n, from)
}
