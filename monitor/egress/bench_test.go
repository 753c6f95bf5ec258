package egress

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/profiles"
)

// TestBenchEgress measures what the rules cost traffic over a veth pair:
// one TCP stream's throughput and sequential connection rate from the
// container's namespace to a peer namespace, without a table, with the
// profile's rules, and with 64 more egress entries ahead of the matching
// one (new connections walk the list; established traffic stops at the
// conntrack rule). It reports, it asserts no speed: run by make bench
// (CONFINE_BENCH=1).
func TestBenchEgress(t *testing.T) {
	if os.Getenv("CONFINE_BENCH") == "" {
		t.Skip("benchmark: run by make bench (CONFINE_BENCH=1)")
	}
	d := 2 * time.Second
	if s, err := strconv.Atoi(os.Getenv("CONFINE_BENCH_SECONDS")); err == nil && s > 0 {
		d = time.Duration(s) * time.Second
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("CONFINE_BENCH_TRIALS")); err == nil && n > 0 {
		rounds = n
	}
	b := newBox(t, []string{"sleep", "3600"})
	peer := b.env.Peer.String()
	listenIn(t, b.env.PeerNSPath, b.peer(peerP1), func(c net.Conn) {
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	})
	listenIn(t, b.env.PeerNSPath, b.peer(peerP2), func(c net.Conn) { c.Close() })

	rules := profile(profiles.ModeEnforce, []string{peer + ":9001", peer + ":9002"}, []int{80})
	var many []string
	for i := 0; i < 64; i++ {
		many = append(many, fmt.Sprintf("10.%d.%d.0/24:443", 100+i/250, i%250))
	}
	rulesMany := profile(profiles.ModeEnforce, append(many, peer+":9001", peer+":9002"), []int{80})

	type sample struct{ mbps, connps []float64 }
	results := map[string]*sample{"none": {}, "rules": {}, "rules+64": {}}
	measure := func(name string) {
		mbps, err := throughput(b.env.TargetNSPath(), b.peer(peerP1), d)
		if err != nil {
			t.Fatalf("%s: throughput: %v", name, err)
		}
		cps, err := connRate(b.env.TargetNSPath(), b.peer(peerP2), d)
		if err != nil {
			t.Fatalf("%s: connection rate: %v", name, err)
		}
		results[name].mbps = append(results[name].mbps, mbps)
		results[name].connps = append(results[name].connps, cps)
	}
	var applyTimes, updateTimes []time.Duration
	for i := 0; i < rounds; i++ {
		measure("none")
		start := time.Now()
		r, err := Apply(b.pid, rules, Options{Container: "bench"})
		if err != nil {
			t.Fatal(err)
		}
		applyTimes = append(applyTimes, time.Since(start))
		measure("rules")
		start = time.Now()
		if err := r.Update(rulesMany); err != nil {
			t.Fatal(err)
		}
		updateTimes = append(updateTimes, time.Since(start))
		measure("rules+64")
		if err := r.Remove(); err != nil {
			t.Fatal(err)
		}
	}
	med := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	medD := func(xs []time.Duration) time.Duration {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	base := results["none"]
	var out strings.Builder
	fmt.Fprintf(&out, "\negress rules over veth (median of %d rounds, %v per measurement)\n", rounds, d)
	fmt.Fprintf(&out, "%-10s %14s %8s %16s %8s\n", "rules", "stream MB/s", "ratio", "connections/s", "ratio")
	for _, name := range []string{"none", "rules", "rules+64"} {
		s := results[name]
		fmt.Fprintf(&out, "%-10s %14.0f %8.3f %16.0f %8.3f\n", name, med(s.mbps), med(s.mbps)/med(base.mbps),
			med(s.connps), med(s.connps)/med(base.connps))
	}
	fmt.Fprintf(&out, "Apply (fresh table) %v, Update (66 entries, in place) %v (median)\n", medD(applyTimes), medD(updateTimes))
	t.Log(out.String())
}

// throughput streams to addr from the namespace at path for d and returns
// MB/s.
func throughput(path string, addr netip.AddrPort, d time.Duration) (float64, error) {
	var n int64
	err := inNetNS(path, func() error {
		c, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			m, err := c.Write(buf)
			n += int64(m)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return float64(n) / d.Seconds() / 1e6, err
}

// connRate connects to addr and closes (with a reset: no TIME_WAIT),
// sequentially, from the namespace at path for d, and returns connections
// per second.
func connRate(path string, addr netip.AddrPort, d time.Duration) (float64, error) {
	var n int
	start := time.Now()
	err := inNetNS(path, func() error {
		dl := net.Dialer{Timeout: 2 * time.Second}
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			c, err := dl.Dial("tcp", addr.String())
			if err != nil {
				return err
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
			n++
		}
		return nil
	})
	return float64(n) / time.Since(start).Seconds(), err
}
