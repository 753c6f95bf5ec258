package egress

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/monitor/proc"
	"golang.org/x/sys/unix"
)

// Test traffic stays on this machine: between a container's network
// namespace and a namespace the test makes, joined by a veth pair the test
// makes, addressed in 10.201.X.0/30 (used only by these two namespaces).

// netEnv is a peer network namespace joined to a target namespace (a
// container's, by PID) by a veth pair.
type netEnv struct {
	PeerNS     string // name under /run/netns
	PeerNSPath string
	PeerVeth   string
	TargetPid  int
	Local      netip.Addr // the target's end: 10.201.X.1
	Peer       netip.Addr // the peer's end: 10.201.X.2
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// newNetEnv creates the peer namespace and the veth pair and moves one end
// into the namespace of pid. Everything is removed, by name, when the test
// ends (the target's end goes with the target's namespace or with the
// pair).
func newNetEnv(t testing.TB, pid int) *netEnv {
	t.Helper()
	testbed.RequireTools(t, "ip", "nsenter")
	id := randHex(3)
	x, _ := strconv.ParseUint(id[:2], 16, 8) // third octet: any, the namespaces are private
	e := &netEnv{
		PeerNS:    "cfeg-" + id,
		PeerVeth:  "cfe" + id + "p",
		TargetPid: pid,
		Local:     netip.MustParseAddr(fmt.Sprintf("10.201.%d.1", x)),
		Peer:      netip.MustParseAddr(fmt.Sprintf("10.201.%d.2", x)),
	}
	e.PeerNSPath = "/run/netns/" + e.PeerNS
	targetVeth := "cfe" + id + "c"
	run(t, "ip", "netns", "add", e.PeerNS)
	t.Cleanup(func() {
		// Deleting one end deletes the pair; the namespace takes its end
		// with it. Both by the names made here.
		_ = exec.Command("ip", "link", "del", targetVeth).Run() // still in the host if a step failed
		_ = exec.Command("ip", "netns", "del", e.PeerNS).Run()
	})
	run(t, "ip", "link", "add", targetVeth, "type", "veth", "peer", "name", e.PeerVeth)
	run(t, "ip", "link", "set", e.PeerVeth, "netns", e.PeerNS)
	run(t, "ip", "link", "set", targetVeth, "netns", strconv.Itoa(pid))
	nsArg := "--net=/proc/" + strconv.Itoa(pid) + "/ns/net"
	run(t, "nsenter", nsArg, "ip", "addr", "add", e.Local.String()+"/30", "dev", targetVeth)
	run(t, "nsenter", nsArg, "ip", "link", "set", targetVeth, "up")
	run(t, "nsenter", nsArg, "ip", "link", "set", "lo", "up")
	run(t, "ip", "-n", e.PeerNS, "addr", "add", e.Peer.String()+"/30", "dev", e.PeerVeth)
	run(t, "ip", "-n", e.PeerNS, "link", "set", e.PeerVeth, "up")
	run(t, "ip", "-n", e.PeerNS, "link", "set", "lo", "up")
	return e
}

// TargetNSPath is the target's namespace as a path.
func (e *netEnv) TargetNSPath() string { return "/proc/" + strconv.Itoa(e.TargetPid) + "/ns/net" }

// PeerVethExists reports whether the peer's end of the pair still exists:
// it vanishes when the target's namespace is destroyed.
func (e *netEnv) PeerVethExists() bool {
	return exec.Command("ip", "-n", e.PeerNS, "link", "show", e.PeerVeth).Run() == nil
}

// inNetNS runs fn on a locked OS thread inside the namespace at path.
// Sockets fn creates stay in that namespace. When the thread cannot be put
// back, it is left locked and the runtime discards it with the goroutine.
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restoring the network namespace: %w", err))
			return // thread stays locked: it exits with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// listenIn opens a TCP listener in the namespace at path; it is closed when
// the test ends. Each accepted connection is handed to serve (nil: read
// until EOF, then close).
func listenIn(t testing.TB, path string, addr netip.AddrPort, serve func(net.Conn)) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := inNetNS(path, func() (err error) {
		ln, err = net.Listen("tcp", addr.String())
		return err
	}); err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, path, err)
	}
	t.Cleanup(func() { ln.Close() })
	if serve == nil {
		serve = func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln
}

// dialFrom connects to addr from inside the namespace at path.
func dialFrom(path string, addr netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNetNS(path, func() (err error) {
		d := net.Dialer{Timeout: timeout}
		c, err = d.DialContext(context.Background(), "tcp", addr.String())
		return err
	})
	return c, err
}

func mustProcFS(t testing.TB) proc.FS {
	t.Helper()
	fs, err := proc.NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	return fs
}
