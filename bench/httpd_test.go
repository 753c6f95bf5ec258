package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// httpdWorkload serves a page with busybox httpd (a fork per connection)
// and fetches it 300 times with busybox wget (a fork and exec per request)
// over the container's loopback: a small web service with its client, as
// much process creation and socket work per request as a CGI-style server.
// It prints the time of the request loop in nanoseconds.
const httpdWorkload = nowNS + `
mkdir -p /tmp/www && echo hello > /tmp/www/index.html
httpd -p 127.0.0.1:8080 -h /tmp/www || exit 1
n=0; until wget -q -O /dev/null http://127.0.0.1:8080/index.html; do n=$((n+1)); [ $n -gt 100 ] && exit 1; usleep 20000; done
s=$(now); i=0
while [ $i -lt 300 ]; do wget -q -O /dev/null http://127.0.0.1:8080/index.html || exit 1; i=$((i+1)); done
e=$(now); echo $((e-s))`

// TestBenchHTTPD: the realistic workload unconfined, under containerd's
// default seccomp filter (Docker's, as `ctr run --seccomp` applies it),
// in confine learn mode, and under the profile learned from it, promoted
// to enforce (seccomp allowlist, exec allowlist with the fanotify guard,
// egress rules), through confined and confine-runc.
func TestBenchHTTPD(t *testing.T) {
	requireBench(t)
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "web", "apiVersion: confine/v1\nname: web\nmode: learn\nselector:\n  labels: {app: web}\n")
	bed.StartConfined(t)
	run := func(name, runtime string, labels map[string]string, opts ...oci.SpecOpts) time.Duration {
		return timedRun(t, bed, name, testbed.RunOptions{Runtime: runtime, Args: []string{"sh", "-c", httpdWorkload}, Labels: labels, SpecOpts: opts})
	}
	web := map[string]string{"app": "web"}
	runs := trials(5)
	var unconf, docker []time.Duration
	for i := 0; i < runs; i++ {
		unconf = append(unconf, run("unconfined", "", nil))
		docker = append(docker, run("containerd default filter", "", nil, seccomp.WithDefaultProfile()))
	}
	first, learn, enforce := learnAndEnforce(t, bed, "web", runs, func(name string) time.Duration { return run(name, bed.Runc, web) })
	base := summarize(unconf).p50
	fmt.Printf("\n## Realistic workload: busybox httpd serving 300 requests to wget in the container (median of %d)\n\n", runs)
	fmt.Printf("| run | median | ratio to unconfined |\n|---|---|---|\n")
	for _, r := range []struct {
		name string
		ds   []time.Duration
	}{
		{"unconfined (runc, no filter)", unconf},
		{"Docker's default filter (containerd's, as `ctr run --seccomp`)", docker},
		{"confine learn, first run", first},
		{"confine learn, learned set known", learn},
		{"confine enforce, the learned profile promoted", enforce},
	} {
		m := summarize(r.ds).p50
		fmt.Printf("| %s | %s | %.2f |\n", r.name, m.Round(time.Millisecond), float64(m)/float64(base))
	}
}
