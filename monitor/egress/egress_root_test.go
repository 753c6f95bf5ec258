package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
	"github.com/google/nftables"
)

// Ports used inside the two private namespaces.
const (
	peerP1, peerP2, peerP3 = 9001, 9002, 9003 // listeners in the peer namespace
	boxL1, boxL2           = 8081, 8082       // listeners in the container
)

// box is a running busybox container whose network namespace is joined to
// a peer namespace by a veth pair.
type box struct {
	run *testbed.Running
	env *netEnv
	pid int
}

// boxListeners keeps two persistent busybox listeners (L1, L2) running in
// the container.
var boxListeners = []string{"sh", "-c", fmt.Sprintf(
	"nc -ll -p %d -e /bin/true & nc -ll -p %d -e /bin/true & exec sleep 3600", boxL1, boxL2)}

func newBox(t *testing.T, args []string) *box {
	t.Helper()
	c := testbed.Start(t)
	r, err := c.Start(context.Background(), testbed.RunOptions{Args: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	b := &box{run: r, pid: int(r.Pid())}
	b.env = newNetEnv(t, b.pid)
	return b
}

// nc connects from inside the container with busybox nc and sends a line.
func (b *box) nc(t *testing.T, host string, port int) (*testbed.Result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	res, err := b.run.Exec(ctx, "sh", "-c", fmt.Sprintf("echo hello | nc -w 2 %s %d", host, port))
	if err != nil {
		t.Fatalf("nc %s %d in the container: %v", host, port, err)
	}
	return res, time.Since(start)
}

// mustReach asserts the container connects to host:port.
func (b *box) mustReach(t *testing.T, host string, port int) {
	t.Helper()
	if res, _ := b.nc(t, host, port); res.ExitStatus != 0 {
		t.Fatalf("container -> %s:%d: exit %d, %s; want a connection", host, port, res.ExitStatus, res.Stderr)
	}
}

// mustBeRefused asserts a connection from the container fails at once with
// "connection refused".
func (b *box) mustBeRefused(t *testing.T, host string, port int) {
	t.Helper()
	res, took := b.nc(t, host, port)
	if res.ExitStatus == 0 || !strings.Contains(res.Stderr, "refused") {
		t.Fatalf("container -> %s:%d: exit %d, stderr %q; want connection refused", host, port, res.ExitStatus, res.Stderr)
	}
	if took > time.Second {
		t.Fatalf("container -> %s:%d: refused after %v; want at once", host, port, took)
	}
}

// dial connects from the container's namespace with a Go socket (the
// kernel rules do not care which process owns the socket).
func (b *box) dial(addr netip.AddrPort) (net.Conn, error) {
	return dialFrom(b.env.TargetNSPath(), addr, 2*time.Second)
}

func (b *box) peer(port int) netip.AddrPort  { return netip.AddrPortFrom(b.env.Peer, uint16(port)) }
func (b *box) local(port int) netip.AddrPort { return netip.AddrPortFrom(b.env.Local, uint16(port)) }

func profile(mode profiles.Mode, egress []string, listen []int) *profiles.Profile {
	p := &profiles.Profile{APIVersion: profiles.APIVersion, Name: "egress-test", Mode: mode}
	if egress != nil {
		p.Network.Egress = profiles.List(egress)
	}
	if listen != nil {
		p.Network.Listen = profiles.Ports(listen)
	}
	return p
}

// waitDenied waits for an event that match accepts, skipping others.
func waitDenied(t *testing.T, ch <-chan Denied, what string, match func(Denied) bool) Denied {
	t.Helper()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case d := <-ch:
			if match(d) {
				return d
			}
		case <-deadline:
			t.Fatalf("no denied event for %s", what)
		}
	}
}

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// waitGone waits for the container's namespace to be destroyed: the peer's
// end of the veth pair vanishes with it. Anything still holding the
// namespace (an open nsfs file, a socket in it) keeps the pair.
func waitGone(t *testing.T, e *netEnv) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !e.PeerVethExists() {
			return
		}
	}
	t.Fatal("the container's network namespace outlived the container: something still holds it")
}

// tableExists lists the tables of the namespace at path (read only).
func tableExists(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == TableName {
			return true
		}
	}
	return false
}

func TestApplyRefusesHostNetwork(t *testing.T) {
	testbed.RequiresRoot(t)
	p := profile(profiles.ModeEnforce, []string{"10.0.0.0/8:5432"}, []int{80})
	for _, pid := range []int{os.Getpid(), 1} {
		_, err := Apply(pid, p, Options{Container: "host-" + strconv.Itoa(pid)})
		if pid == 1 && err != nil && !errors.Is(err, ErrHostNetwork) {
			// PID 1's namespace may be unreadable (EACCES where it holds
			// capabilities this process lacks); refusing is what counts.
			t.Logf("Apply(1): %v", err)
			continue
		}
		if !errors.Is(err, ErrHostNetwork) {
			t.Fatalf("Apply(pid %d in the host namespace) = %v, want ErrHostNetwork", pid, err)
		}
		if !strings.Contains(err.Error(), "host-"+strconv.Itoa(pid)) {
			t.Errorf("error %q does not name the container", err)
		}
	}
	if tableExists(t, "/proc/self/ns/net") {
		t.Fatal("a table inet confine exists in the host namespace")
	}
	fs := mustProcFS(t)
	if shared, err := SharesHostNetwork(fs, os.Getpid()); err != nil || !shared {
		t.Fatalf("SharesHostNetwork(self) = %v, %v; want true", shared, err)
	}
	if _, err := Apply(1<<30, p, Options{}); err == nil || !strings.Contains(err.Error(), "pid 1073741824") {
		t.Fatalf("Apply(no such pid) = %v; want an error naming the pid", err)
	}
}

func TestEnforceEgressAndListen(t *testing.T) {
	b := newBox(t, boxListeners)
	peer := b.env.Peer.String()
	var accepted atomic.Int64
	for _, port := range []int{peerP1, peerP2} {
		listenIn(t, b.env.PeerNSPath, b.peer(port), func(c net.Conn) {
			accepted.Add(1)
			c.Close()
		})
	}
	// Without rules everything connects: the refusals below are the rules'.
	b.mustReach(t, peer, peerP1)
	b.mustReach(t, peer, peerP2)
	b.mustReach(t, "127.0.0.1", boxL1)

	ch := make(chan Denied, 64)
	r, err := Apply(b.pid, profile(profiles.ModeEnforce, []string{peer + ":" + strconv.Itoa(peerP1)}, []int{boxL1}),
		Options{Container: "ns/enforce", Denied: ch})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if shared, err := SharesHostNetwork(mustProcFS(t), b.pid); err != nil || shared {
		t.Fatalf("SharesHostNetwork(container) = %v, %v; want false", shared, err)
	}

	t.Run("allowed peer port", func(t *testing.T) {
		before := accepted.Load()
		b.mustReach(t, peer, peerP1)
		if accepted.Load() == before {
			t.Fatal("the peer accepted nothing")
		}
	})
	t.Run("other port refused at once and reported", func(t *testing.T) {
		b.mustBeRefused(t, peer, peerP2)
		d := waitDenied(t, ch, "tcp to P2", func(d Denied) bool { return d.Peer == b.peer(peerP2) })
		want := Denied{Container: "ns/enforce", Direction: Egress, Proto: "tcp", Peer: b.peer(peerP2), Enforced: true}
		if d.Container != want.Container || d.Direction != want.Direction || d.Proto != want.Proto || !d.Enforced || d.Local.Addr() != b.env.Local {
			t.Fatalf("event %+v, want %+v from %s", d, want, b.env.Local)
		}
	})
	t.Run("udp to another port gets port unreachable", func(t *testing.T) {
		var err error
		_ = inNetNS(b.env.TargetNSPath(), func() error {
			c, derr := net.Dial("udp", b.peer(peerP3).String())
			if derr != nil {
				err = derr
				return nil
			}
			defer c.Close()
			_, _ = c.Write([]byte("x"))
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			_, err = c.Read(make([]byte, 1))
			return nil
		})
		if !isRefused(err) {
			t.Fatalf("udp to %s: %v; want connection refused", b.peer(peerP3), err)
		}
		waitDenied(t, ch, "udp to P3", func(d Denied) bool { return d.Proto == "udp" && d.Peer == b.peer(peerP3) })
	})
	t.Run("loopback follows egress", func(t *testing.T) {
		// 127.0.0.1 is not in the profile's egress: the container may not
		// connect to its own listener either (what the /proc monitor
		// would flag too).
		b.mustBeRefused(t, "127.0.0.1", boxL1)
	})
	t.Run("listen port not in profile refuses the peer", func(t *testing.T) {
		c, err := dialFrom(b.env.PeerNSPath, b.local(boxL1), 2*time.Second)
		if err != nil {
			t.Fatalf("peer -> container listen port %d: %v", boxL1, err)
		}
		c.Close()
		start := time.Now()
		_, err = dialFrom(b.env.PeerNSPath, b.local(boxL2), 2*time.Second)
		if !isRefused(err) || time.Since(start) > time.Second {
			t.Fatalf("peer -> container port %d: %v after %v; want refused at once", boxL2, err, time.Since(start))
		}
		d := waitDenied(t, ch, "ingress to L2", func(d Denied) bool { return d.Direction == Ingress })
		if d.Local != b.local(boxL2) || d.Peer.Addr() != b.env.Peer || d.Proto != "tcp" {
			t.Fatalf("ingress event %+v: want local %s from %s", d, b.local(boxL2), b.env.Peer)
		}
	})
	t.Run("counters", func(t *testing.T) {
		c, err := r.Counters()
		if err != nil {
			t.Fatal(err)
		}
		// P2 (tcp), P3 (udp), 127.0.0.1:L1 out; L2 in.
		if c.EgressPackets < 3 || c.IngressPackets < 1 || c.EgressBytes == 0 {
			t.Fatalf("counters %+v: want >= 3 egress and >= 1 ingress packets", c)
		}
		if s := r.Stats(); s.Delivered < 4 || s.Malformed != 0 {
			t.Fatalf("reader stats %+v", s)
		}
	})
	t.Run("gone with the container", func(t *testing.T) {
		if err := b.run.Kill(context.Background(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("Done not closed after the container exited")
		}
		// The namespace, and the table in it, are destroyed: Rules let go
		// of it by itself (its NFLOG socket would pin it).
		waitGone(t, b.env)
		if _, err := r.Counters(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Counters after exit: %v, want ErrClosed", err)
		}
		if err := r.Remove(); err != nil {
			t.Fatalf("Remove after exit: %v", err)
		}
	})
}

// lineCounter is a peer listener that counts the lines each connection
// sends.
type lineCounter struct {
	mu    sync.Mutex
	lines int
	conns int
}

func (l *lineCounter) serve(c net.Conn) {
	defer c.Close()
	l.mu.Lock()
	l.conns++
	l.mu.Unlock()
	s := bufio.NewScanner(c)
	for s.Scan() {
		l.mu.Lock()
		l.lines++
		l.mu.Unlock()
	}
}

func (l *lineCounter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines
}

// waitLines waits until the counter has more than n lines.
func (l *lineCounter) waitLines(t *testing.T, n int, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if l.count() > n {
			return
		}
	}
	t.Fatalf("%s: no line after %d", what, n)
}

func TestReloadWithoutGap(t *testing.T) {
	b := newBox(t, []string{"sleep", "3600"})
	peer := b.env.Peer.String()
	ticks := &lineCounter{}
	listenIn(t, b.env.PeerNSPath, b.peer(peerP1), ticks.serve)
	for _, port := range []int{peerP2, peerP3} {
		listenIn(t, b.env.PeerNSPath, b.peer(port), nil)
	}
	onlyP1 := profile(profiles.ModeEnforce, []string{peer + ":9001"}, nil)
	p1p3 := profile(profiles.ModeEnforce, []string{peer + ":9001", peer + ":9003"}, nil)
	onlyP2 := profile(profiles.ModeEnforce, []string{peer + ":9002"}, nil)

	r, err := Apply(b.pid, onlyP1, Options{Container: "ns/reload"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()

	// A long-lived connection from a container process to P1.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = b.run.Exec(ctx, "sh", "-c", fmt.Sprintf("while true; do echo tick; sleep 0.05; done | nc %s %d", peer, peerP1))
	}()
	ticks.waitLines(t, 0, "established connection")

	t.Run("no gap across reloads", func(t *testing.T) {
		// Two dialers in the container's namespace while the profile is
		// reloaded over and over: P1 (allowed by both versions) must never
		// fail, P2 (allowed by neither) must never connect. A reload that
		// is not one transaction shows up as one or the other.
		type tally struct {
			ok, refused, other atomic.Int64
			firstOther         atomic.Value
		}
		dialLoop := func(addr netip.AddrPort, tl *tally, stop <-chan struct{}) {
			_ = inNetNS(b.env.TargetNSPath(), func() error {
				d := net.Dialer{Timeout: 2 * time.Second}
				for {
					select {
					case <-stop:
						return nil
					default:
					}
					c, err := d.Dial("tcp", addr.String())
					switch {
					case err == nil:
						tl.ok.Add(1)
						c.Close()
					case isRefused(err):
						tl.refused.Add(1)
					default:
						tl.other.Add(1)
						tl.firstOther.CompareAndSwap(nil, err)
					}
				}
			})
		}
		var p1, p2 tally
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, l := range []struct {
			addr netip.AddrPort
			tl   *tally
		}{{b.peer(peerP1), &p1}, {b.peer(peerP2), &p2}} {
			wg.Add(1)
			go func() { defer wg.Done(); dialLoop(l.addr, l.tl, stop) }()
		}
		const reloads = 100
		var uerr error
		for i := 0; i < reloads && uerr == nil; i++ {
			p := onlyP1
			if i%2 == 0 {
				p = p1p3
			}
			uerr = r.Update(p)
		}
		close(stop)
		wg.Wait()
		if uerr != nil {
			t.Fatal(uerr)
		}
		t.Logf("%d reloads: P1 %d connected, %d refused, %d other errors; P2 %d connected, %d refused",
			reloads, p1.ok.Load(), p1.refused.Load(), p1.other.Load(), p2.ok.Load(), p2.refused.Load())
		if p1.refused.Load()+p1.other.Load() != 0 {
			t.Errorf("connections to the allowed P1 failed during reloads (first other error: %v)", p1.firstOther.Load())
		}
		if p2.ok.Load() != 0 || p2.other.Load() != 0 {
			t.Errorf("connections to the denied P2 were not refused during reloads (first other error: %v)", p2.firstOther.Load())
		}
		if p1.ok.Load() < 10 || p2.refused.Load() < 10 {
			t.Fatal("too few connection attempts during the reloads: the test proves nothing")
		}
	})

	t.Run("changed profile changes behaviour, established connection survives", func(t *testing.T) {
		if _, err := b.dial(b.peer(peerP2)); !isRefused(err) {
			t.Fatalf("P2 before the reload: %v, want refused", err)
		}
		before, err := r.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Update(onlyP2); err != nil {
			t.Fatal(err)
		}
		n := ticks.count()
		ticks.waitLines(t, n+3, "the established connection to P1 after the reload")
		if _, err := b.dial(b.peer(peerP1)); !isRefused(err) {
			t.Fatalf("new connection to P1 after the reload: %v, want refused", err)
		}
		c, err := b.dial(b.peer(peerP2))
		if err != nil {
			t.Fatalf("P2 after the reload: %v", err)
		}
		c.Close()
		after, err := r.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if after.EgressPackets <= before.EgressPackets {
			t.Fatalf("counters went from %+v to %+v across a reload; want them kept and counting", before, after)
		}
	})

	t.Run("monitor mode reports and lets through", func(t *testing.T) {
		ch := make(chan Denied, 16)
		mr, err := func() (*Rules, error) {
			// A second handle on the same namespace stands for a
			// restarted daemon: the first one's reader must go first.
			r.Close()
			return Apply(b.pid, profile(profiles.ModeMonitor, []string{peer + ":9002"}, nil), Options{Container: "ns/reload", Denied: ch})
		}()
		if err != nil {
			t.Fatal(err)
		}
		r = mr
		c, err := b.dial(b.peer(peerP1))
		if err != nil {
			t.Fatalf("P1 in monitor mode: %v, want it let through", err)
		}
		c.Close()
		d := waitDenied(t, ch, "P1 in monitor mode", func(d Denied) bool { return d.Peer == b.peer(peerP1) })
		if d.Enforced {
			t.Fatalf("monitor-mode event %+v says enforced", d)
		}
		n := ticks.count()
		ticks.waitLines(t, n+3, "the established connection after the daemon restart")
	})

	t.Run("rules outlive the daemon", func(t *testing.T) {
		if err := r.Update(onlyP2); err != nil {
			t.Fatal(err)
		}
		r.Close() // the daemon stops: the table stays
		if !tableExists(t, b.env.TargetNSPath()) {
			t.Fatal("Close removed the table")
		}
		if _, err := b.dial(b.peer(peerP1)); !isRefused(err) {
			t.Fatalf("P1 with the daemon gone: %v, want refused", err)
		}
		r2, err := Apply(b.pid, onlyP1, Options{Container: "ns/reload"})
		if err != nil {
			t.Fatal(err)
		}
		defer r2.Close()
		c, err := b.dial(b.peer(peerP1))
		if err != nil {
			t.Fatalf("P1 after the restarted daemon's Apply: %v", err)
		}
		c.Close()
		if err := r2.Remove(); err != nil {
			t.Fatal(err)
		}
		if tableExists(t, b.env.TargetNSPath()) {
			t.Fatal("Remove left the table")
		}
		c, err = b.dial(b.peer(peerP2))
		if err != nil {
			t.Fatalf("P2 without rules: %v", err)
		}
		c.Close()
	})
}

// fakeResolver answers from a map that the test changes.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	err     error
}

func (f *fakeResolver) set(host string, err error, addrs ...netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[host], f.err = addrs, err
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	a, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return a, nil
}

func TestDNSNamesAndLoopback(t *testing.T) {
	b := newBox(t, boxListeners)
	listenIn(t, b.env.PeerNSPath, b.peer(peerP1), nil)
	res := &fakeResolver{answers: map[string][]netip.Addr{}}
	res.set("db.test", nil, b.env.Peer)
	p := profile(profiles.ModeEnforce, []string{"db.test:9001", "127.0.0.1:" + strconv.Itoa(boxL1), "missing.test:80"}, nil)
	r, err := Apply(b.pid, p, Options{Container: "ns/dns", Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	hosts := r.Hosts()
	if len(hosts) != 2 || hosts[0].Host != "db.test" || len(hosts[0].Addrs) != 1 || hosts[0].Addrs[0] != b.env.Peer ||
		hosts[1].Host != "missing.test" || hosts[1].Err == nil || len(hosts[1].Addrs) != 0 {
		t.Fatalf("Hosts() = %+v", hosts)
	}
	b.mustReach(t, b.env.Peer.String(), peerP1)
	b.mustReach(t, "127.0.0.1", boxL1)
	b.mustBeRefused(t, "127.0.0.1", boxL2)

	// The name moves: the old address stays admitted for one more refresh
	// (clients cache answers), then goes.
	moved := netip.MustParseAddr("10.201.255.254")
	res.set("db.test", nil, moved)
	if changed, err := r.Refresh(context.Background()); err != nil || !changed {
		t.Fatalf("Refresh after the name moved = %v, %v; want changed", changed, err)
	}
	b.mustReach(t, b.env.Peer.String(), peerP1)
	// A failing lookup keeps what is known.
	res.set("db.test", errors.New("server misbehaving"))
	if changed, err := r.Refresh(context.Background()); err != nil || changed {
		t.Fatalf("Refresh with DNS failing = %v, %v; want unchanged", changed, err)
	}
	if h := r.Hosts()[0]; h.Err == nil || len(h.Addrs) != 2 {
		t.Fatalf("after a failed lookup: %+v; want the error and both addresses kept", h)
	}
	b.mustReach(t, b.env.Peer.String(), peerP1)
	res.set("db.test", nil, moved)
	if changed, err := r.Refresh(context.Background()); err != nil || !changed {
		t.Fatalf("second Refresh = %v, %v; want changed", changed, err)
	}
	b.mustBeRefused(t, b.env.Peer.String(), peerP1)

	t.Run("tampering shows and Update repairs it", func(t *testing.T) {
		// What a process with CAP_NET_ADMIN in the container could do.
		f, err := os.Open(b.env.TargetNSPath())
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		c, err := newConn(f)
		if err != nil {
			t.Fatal(err)
		}
		c.DelTable(table())
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Counters(); !errors.Is(err, ErrNoTable) {
			t.Fatalf("Counters without the table: %v, want ErrNoTable", err)
		}
		if err := r.Update(p); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Counters(); err != nil {
			t.Fatalf("Counters after Update: %v", err)
		}
		b.mustBeRefused(t, "127.0.0.1", boxL2)
	})
}

func TestProfileWithoutNetworkRules(t *testing.T) {
	b := newBox(t, []string{"sleep", "3600"})
	listenIn(t, b.env.PeerNSPath, b.peer(peerP1), nil)
	r, err := Apply(b.pid, profile(profiles.ModeEnforce, nil, nil), Options{Container: "ns/none", Denied: make(chan Denied, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if tableExists(t, b.env.TargetNSPath()) {
		t.Fatal("a profile without network rules got a table")
	}
	if c, err := r.Counters(); err != nil || c != (Counters{}) {
		t.Fatalf("Counters() = %+v, %v", c, err)
	}
	b.mustReach(t, b.env.Peer.String(), peerP1)

	// Nothing allowed at all: an empty list is not an absent one.
	if err := r.Update(profile(profiles.ModeEnforce, []string{}, []int{})); err != nil {
		t.Fatal(err)
	}
	if _, err := b.dial(b.peer(peerP1)); !isRefused(err) {
		t.Fatalf("egress: [] still connects: %v", err)
	}
	if err := r.Update(profile(profiles.ModeEnforce, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if tableExists(t, b.env.TargetNSPath()) {
		t.Fatal("the table stayed after the network rules were dropped from the profile")
	}
	b.mustReach(t, b.env.Peer.String(), peerP1)
}
