package notify_test

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/seccomp/notify"
)

// BenchmarkTrappedSyscall measures what a trapped syscall costs the
// trapping process: the helper makes b.N getppid calls under a filter
// that sends them to the listener, timing the loop itself (process start
// and filter setup are not counted). ns/op is the cost of one trapped
// call; allowed-ns/op is getpid through the same filter (allowed by it),
// nofilter-ns/op getppid before any filter. readpath traps mkdirat and
// reads its path argument (Request.ReadString) before answering.
//
//	go test -run '^$' -bench TrappedSyscall ./seccomp/notify/
func BenchmarkTrappedSyscall(b *testing.B) {
	readPath := notify.HandlerFunc(func(_ notify.Container, r *notify.Request) notify.Response {
		if _, err := r.ReadString(r.Args[1], notify.MaxPath); err != nil {
			panic(err)
		}
		return notify.Errno(unix.EEXIST)
	})
	for _, bc := range []struct {
		name, mode string
		h          notify.Handler
	}{
		{"continue", "bench", notify.HandlerFunc(func(notify.Container, *notify.Request) notify.Response { return notify.Continue() })},
		{"errno", "bench", notify.HandlerFunc(func(notify.Container, *notify.Request) notify.Response { return notify.Errno(unix.EPERM) })},
		{"record", "bench", &recorder{}},
		// mkdirat, whose path the handler reads from /proc/PID/mem.
		{"readpath", "benchpath", readPath},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := listen(b, bc.h)
			hp := startHelper(b, bc.mode, l.Path(), strconv.Itoa(b.N))
			lines := hp.lines(bounded(b), b)
			if err := hp.wait(); err != nil {
				b.Fatalf("helper: %v (%q)", err, lines)
			}
			metrics := map[string]float64{}
			for _, line := range lines {
				k, v, ok := strings.Cut(line, "=")
				if !ok {
					continue
				}
				ns, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatalf("helper said %q", line)
				}
				metrics[k] = ns / float64(b.N)
			}
			// More is possible: a signal (Go's preemption) interrupts a
			// waiting call, which is then restarted and trapped again.
			if got := l.Stats().Trapped; got < uint64(b.N) {
				b.Fatalf("trapped %d, want at least %d", got, b.N)
			}
			b.ReportMetric(metrics["trapped_ns"], "ns/op")
			if bc.mode == "bench" {
				b.ReportMetric(metrics["allowed_ns"], "allowed-ns/op")
			}
			b.ReportMetric(metrics["nofilter_ns"], "nofilter-ns/op")
		})
	}
}
