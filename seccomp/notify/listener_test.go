package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/seccomp/notify"
)

// record is one handled syscall.
type record struct {
	c    notify.Container
	r    notify.Request
	path string // the path argument, read while the request was valid
	err  error  // reading it
}

// recorder is a Handler that records every request and answers with
// decide (nil: continue).
type recorder struct {
	mu      sync.Mutex
	records []record
	decide  func(c notify.Container, r *notify.Request) notify.Response
	// readPath reads the path argument of mkdir/mkdirat.
	readPath bool
}

func (h *recorder) Handle(c notify.Container, r *notify.Request) notify.Response {
	rec := record{c: c, r: *r}
	if h.readPath {
		switch r.Syscall {
		case "mkdir":
			rec.path, rec.err = r.ReadString(r.Args[0], notify.MaxPath)
		case "mkdirat":
			rec.path, rec.err = r.ReadString(r.Args[1], notify.MaxPath)
		}
	}
	h.mu.Lock()
	h.records = append(h.records, rec)
	h.mu.Unlock()
	if h.decide != nil {
		return h.decide(c, r)
	}
	return notify.Continue()
}

func (h *recorder) all() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]record(nil), h.records...)
}

// syscalls returns the set of syscall names seen.
func (h *recorder) syscalls() map[string]int {
	out := map[string]int{}
	for _, rec := range h.all() {
		out[rec.r.Syscall]++
	}
	return out
}

// observer is a recorder that also implements FDObserver and keeps a
// duplicate of every descriptor, like a daemon feeding systemd's store.
type observer struct {
	recorder
	omu      sync.Mutex
	attached []notify.Container
	detached []notify.Container
	dups     []int
}

func (o *observer) Attached(c notify.Container, fd int) {
	o.omu.Lock()
	defer o.omu.Unlock()
	o.attached = append(o.attached, c)
	if dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
		o.dups = append(o.dups, dup)
	}
}

func (o *observer) Detached(c notify.Container, _ int) {
	o.omu.Lock()
	defer o.omu.Unlock()
	o.detached = append(o.detached, c)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// listen starts a listener in a fresh directory and closes it at the end.
func listen(t testing.TB, h notify.Handler) *notify.Listener {
	t.Helper()
	dir, err := os.MkdirTemp("", "nt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := notify.Listen(filepath.Join(dir, "notify.sock"), h, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeBounded(t, l) })
	return l
}

// closeBounded closes l and fails the test if that does not return.
func closeBounded(t testing.TB, l *notify.Listener) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("closing the listener: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
}

// eventually polls cond until it holds or 30 s have passed (a bound, not
// a timing assertion).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 30s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func bounded(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestContinueAndErrno(t *testing.T) {
	h := &recorder{readPath: true, decide: func(_ notify.Container, r *notify.Request) notify.Response {
		if r.Syscall == "mkdirat" {
			return notify.Errno(unix.EACCES) // not EPERM: proves the answer is ours
		}
		return notify.Continue()
	}}
	l := listen(t, h)
	target := filepath.Join(t.TempDir(), "never-created")
	hp := startHelper(t, "mkdir", l.Path(), target)
	lines := hp.lines(bounded(t), t)
	if err := hp.wait(); err != nil {
		t.Fatalf("helper: %v (output %q)", err, lines)
	}
	want := []string{fmt.Sprintf("mkdirat=%d", int(unix.EACCES)), fmt.Sprintf("getppid=%d errno=0", os.Getpid())}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("helper output %q, want %q", lines, want)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("denied mkdirat created %s (stat: %v)", target, err)
	}

	recs := h.all()
	if len(recs) != 2 {
		t.Fatalf("handled %d requests, want 2: %+v", len(recs), recs)
	}
	pid := hp.cmd.Process.Pid
	c := recs[0].c
	if c.ID != helperID || c.Namespace != helperNS || c.ProcessPid != pid || c.Pid != pid || c.Status != "creating" || c.Annotations["a"] != "b" {
		t.Errorf("container %+v", c)
	}
	mk := recs[0]
	if mk.r.Syscall != "mkdirat" || mk.r.PID != pid || mk.r.Arch != runtime.GOARCH || mk.r.ID == 0 {
		t.Errorf("first request %+v", mk.r)
	}
	if mk.err != nil || mk.path != target {
		t.Errorf("path argument %q (%v), want %q", mk.path, mk.err, target)
	}
	if recs[1].r.Syscall != "getppid" {
		t.Errorf("second request %+v", recs[1].r)
	}
	// The copy kept after Handle no longer claims validity.
	if recs[0].r.Valid() {
		t.Error("a request copied out of Handle reports itself valid")
	}
	// All tasks of the filter are gone: the descriptor is closed.
	eventually(t, "descriptor released after the helper exited", func() bool { return l.Stats().Active == 0 })
	st := l.Stats()
	if st.Trapped != 2 || st.Denied != 1 || st.Attached != 1 || st.Rejected != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestCloseAnswersENOSYS(t *testing.T) {
	h := &recorder{}
	l := listen(t, h)
	hp := startHelper(t, "wait", l.Path(), "")
	ctx := bounded(t)
	if got, want := hp.line(ctx, t), fmt.Sprintf("first getppid=%d errno=0", os.Getpid()); got != want {
		t.Fatalf("helper said %q, want %q", got, want)
	}
	if got := l.FDs(); len(got) != 1 || got[0].Container.ID != helperID {
		t.Fatalf("FDs() = %+v", got)
	}
	closeBounded(t, l)
	if _, err := os.Stat(l.Path()); !os.IsNotExist(err) {
		t.Errorf("socket still there after Close: %v", err)
	}
	if _, err := hp.stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	lines := hp.lines(ctx, t)
	if err := hp.wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if len(lines) != 1 || !strings.HasSuffix(lines[0], fmt.Sprintf("errno=%d", int(unix.ENOSYS))) {
		t.Fatalf("after Close the trapped syscall said %q, want errno=%d (ENOSYS)", lines, int(unix.ENOSYS))
	}
	if n := len(h.all()); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
	if got := l.FDs(); len(got) != 0 {
		t.Errorf("FDs() after Close = %+v", got)
	}
}

// TestAdoptAfterRestart is a daemon restart with the descriptors kept
// elsewhere (systemd's store): the first listener's observer keeps a
// duplicate, the listener closes, a second one adopts the duplicate and
// answers the next trapped syscall.
func TestAdoptAfterRestart(t *testing.T) {
	first := &observer{}
	l1 := listen(t, first)
	hp := startHelper(t, "wait", l1.Path(), "")
	ctx := bounded(t)
	if got := hp.line(ctx, t); !strings.HasSuffix(got, "errno=0") {
		t.Fatalf("helper said %q", got)
	}
	closeBounded(t, l1)
	first.omu.Lock()
	dups, attached, detached := first.dups, first.attached, first.detached
	first.omu.Unlock()
	if len(dups) != 1 || len(attached) != 1 || len(detached) != 1 || attached[0].ID != helperID {
		t.Fatalf("observer: %d dups, attached %+v, detached %+v", len(dups), attached, detached)
	}

	second := &recorder{}
	l2 := listen(t, second)
	if err := l2.Adopt(dups[0], attached[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := hp.stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	lines := hp.lines(ctx, t)
	if err := hp.wait(); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("second getppid=%d errno=0", os.Getpid()); len(lines) != 1 || lines[0] != want {
		t.Fatalf("after adoption the helper said %q, want %q", lines, want)
	}
	if recs := second.all(); len(recs) != 1 || recs[0].r.Syscall != "getppid" || recs[0].c.ID != helperID {
		t.Fatalf("second listener handled %+v", recs)
	}
	eventually(t, "adopted descriptor released", func() bool { return l2.Stats().Active == 0 })
}

func TestAdoptRejectsOtherDescriptors(t *testing.T) {
	l := listen(t, &recorder{})
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	err := l.Adopt(p[0], notify.Container{ID: "x"})
	if err == nil || !strings.Contains(err.Error(), "not a seccomp notify descriptor") || !strings.Contains(err.Error(), "container x") {
		t.Fatalf("Adopt(pipe) = %v", err)
	}
	// Adopt owns the descriptor: it was closed.
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFD, 0); err != unix.EBADF {
		t.Errorf("pipe end still open after a failed Adopt (fcntl: %v)", err)
	}
}

func TestSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "n.sock")

	// A stale socket (its listener is gone) is replaced.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()

	l, err := notify.Listen(path, &recorder{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	// Once Listen returns the path is a socket that accepts: a runtime
	// given this listenerPath cannot find it unreachable.
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", st.Mode())
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dialing the listener: %v", err)
	}
	c.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the socket", len(entries))
	}

	// A second listener on the same path is refused.
	if _, err := notify.Listen(path, &recorder{}, testLogger(t)); err == nil || !strings.Contains(err.Error(), "another process is accepting") {
		t.Errorf("second Listen = %v", err)
	}
	if _, err := notify.Listen("relative.sock", &recorder{}, nil); err == nil {
		t.Error("Listen accepted a relative path")
	}
	if _, err := notify.Listen(filepath.Join(dir, strings.Repeat("x", 120)), &recorder{}, nil); err == nil || !strings.Contains(err.Error(), "longer") {
		t.Errorf("Listen with a long path = %v", err)
	}
	if _, err := notify.Listen(filepath.Join(dir, "x.sock"), nil, nil); err == nil {
		t.Error("Listen accepted a nil handler")
	}

	closeBounded(t, l)
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket still there after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestRejectsBadPeers(t *testing.T) {
	l := listen(t, &recorder{})
	send := func(msg []byte, fds ...int) {
		t.Helper()
		sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(sock)
		if err := unix.Connect(sock, &unix.SockaddrUnix{Name: l.Path()}); err != nil {
			t.Fatal(err)
		}
		var oob []byte
		if len(fds) > 0 {
			oob = unix.UnixRights(fds...)
		}
		if err := unix.Sendmsg(sock, msg, oob, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	good := `{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":1,"state":{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":1,"bundle":"/b/ns/c1"}}`
	send([]byte("not json"), p[1])
	send([]byte(good))       // no descriptor
	send([]byte(good), p[1]) // not a notify descriptor
	eventually(t, "three connections rejected", func() bool { return l.Stats().Rejected == 3 })
	unix.Close(p[1])
	// The listener closed its copies of the write end: the pipe reports EOF.
	buf := make([]byte, 1)
	if n, err := unix.Read(p[0], buf); n != 0 || err != nil {
		t.Errorf("pipe read = %d, %v; want EOF (a copy of the write end is still open)", n, err)
	}
	if st := l.Stats(); st.Attached != 0 || st.Active != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestManyDescriptors serves several filters at once, more than there
// are workers: every trapped call of every helper is answered.
func TestManyDescriptors(t *testing.T) {
	h := &recorder{}
	l := listen(t, h)
	const helpers, calls = 10, 2000
	hs := make([]*helper, helpers)
	for i := range hs {
		hs[i] = startHelper(t, "bench", l.Path(), fmt.Sprint(calls))
	}
	ctx := bounded(t)
	for _, hp := range hs {
		lines := hp.lines(ctx, t)
		if err := hp.wait(); err != nil || len(lines) != 3 {
			t.Fatalf("helper: %v, output %q", err, lines)
		}
	}
	pids := map[int]int{}
	for _, rec := range h.all() {
		if rec.r.Syscall != "getppid" || rec.c.ProcessPid != rec.r.PID {
			t.Fatalf("unexpected request %+v from %+v", rec.r, rec.c)
		}
		pids[rec.r.PID]++
	}
	if len(pids) != helpers {
		t.Errorf("requests from %d processes, want %d", len(pids), helpers)
	}
	for pid, n := range pids {
		// A call interrupted by a signal is restarted and trapped again.
		if n < calls {
			t.Errorf("pid %d: %d requests, want at least %d", pid, n, calls)
		}
	}
	eventually(t, "all descriptors released", func() bool { return l.Stats().Active == 0 })
	if st := l.Stats(); st.Attached != helpers {
		t.Errorf("stats %+v", st)
	}
}

// TestHandlerPanic: a panicking handler is answered like a missing agent
// (ENOSYS) and the listener goes on serving.
func TestHandlerPanic(t *testing.T) {
	h := notify.HandlerFunc(func(_ notify.Container, r *notify.Request) notify.Response {
		if r.Syscall == "mkdirat" {
			panic("handler bug")
		}
		return notify.Continue()
	})
	l := listen(t, h)
	hp := startHelper(t, "mkdir", l.Path(), filepath.Join(t.TempDir(), "x"))
	lines := hp.lines(bounded(t), t)
	if err := hp.wait(); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("mkdirat=%d", int(unix.ENOSYS)), fmt.Sprintf("getppid=%d errno=0", os.Getpid())}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("helper output %q, want %q", lines, want)
	}
}
