package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recorder collects what a running Watcher sends.
type recorder struct {
	ch   chan Event
	mu   sync.Mutex
	seen []Event
}

// startWatcher runs a Watcher until the test ends.
func startWatcher(t *testing.T, address string, namespaces []string) (*Watcher, *recorder) {
	t.Helper()
	w := New(address, namespaces, testLogger(t))
	r := &recorder{ch: make(chan Event, 4096)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, func(ev Event) { r.ch <- ev })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of its context being cancelled")
		}
		w.Close()
	})
	return w, r
}

// waitFor returns the first event, from now on, that matches.
func (r *recorder) waitFor(t *testing.T, what string, match func(Event) bool) Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-r.ch:
			r.mu.Lock()
			r.seen = append(r.seen, ev)
			r.mu.Unlock()
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s within 20s; events seen:\n%s", what, r.dump())
		}
	}
}

// drain takes what has arrived without waiting.
func (r *recorder) drain() {
	for {
		select {
		case ev := <-r.ch:
			r.mu.Lock()
			r.seen = append(r.seen, ev)
			r.mu.Unlock()
		default:
			return
		}
	}
}

func (r *recorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, ev := range r.seen {
		fmt.Fprintf(&b, "  %s %s/%s exec=%q pid=%d status=%d containers=%d\n", ev.Kind, ev.Namespace, ev.ID, ev.ExecID, ev.Pid, ev.ExitStatus, len(ev.Containers))
	}
	return b.String()
}

func is(kind Kind, ns, id string) func(Event) bool {
	return func(ev Event) bool { return ev.Kind == kind && ev.Namespace == ns && ev.ID == id }
}

func isResync(ev Event) bool { return ev.Kind == Resync }

func find(list []Container, ns, id string) *Container {
	for i := range list {
		if list[i].Namespace == ns && list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

// testLogger logs through t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// checkInContainer proves, without containerd, that pid runs in the
// container's cgroup.
func checkInContainer(t *testing.T, pid uint32, ns, id string) {
	t.Helper()
	cg, err := cgroupOf(pid)
	if err != nil {
		t.Fatalf("reading the cgroup of pid %d: %v", pid, err)
	}
	if !strings.Contains(cg, "/"+ns+"/"+id) {
		t.Fatalf("pid %d is not in the cgroup of %s/%s:\n%s", pid, ns, id, cg)
	}
}

func TestEventsLookupKill(t *testing.T) {
	requiresRoot(t)
	c := startContainerd(t)
	const ns = "watch-events"
	c.importImage(t, ns)
	w, r := startWatcher(t, c.address, nil)
	ctx := context.Background()

	r.waitFor(t, "resync", isResync)
	if !w.Connected() {
		t.Error("Connected() = false after the resync")
	}
	if v := w.Version(); !strings.HasPrefix(v, "1.") && !strings.HasPrefix(v, "2.") {
		t.Errorf("Version() = %q", v)
	}
	t.Logf("containerd version %s", w.Version())

	id := uniqueID("ev")
	c.run(t, ns, id, runOpts{labels: map[string]string{"app": "web"}, annotations: map[string]string{"confine.profile": "web"}})

	cc := r.waitFor(t, "container create", is(ContainerCreate, ns, id))
	if cc.Image != testImage || cc.Topic != "/containers/create" || cc.Time.IsZero() {
		t.Errorf("container create = %+v", cc)
	}
	tc := r.waitFor(t, "task create", is(TaskCreate, ns, id))
	if tc.Pid == 0 || tc.Bundle == "" {
		t.Errorf("task create = %+v", tc)
	}
	ts := r.waitFor(t, "task start", is(TaskStart, ns, id))
	if ts.Pid != tc.Pid {
		t.Errorf("task start pid %d, task create pid %d", ts.Pid, tc.Pid)
	}
	checkInContainer(t, ts.Pid, ns, id)

	info, err := w.Lookup(ctx, ns, id)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if info.Pid != ts.Pid || info.Status != StatusRunning || info.Image != testImage ||
		info.Labels["app"] != "web" || info.Annotations["confine.profile"] != "web" ||
		info.BundleHint != tc.Bundle || info.Runtime == "" {
		t.Errorf("Lookup = %+v", info)
	}

	c.ctr(t, ns, "tasks", "exec", "--exec-id", "e1", id, "/bin/true")
	r.waitFor(t, "exec added", func(ev Event) bool { return is(TaskExecAdded, ns, id)(ev) && ev.ExecID == "e1" })
	es := r.waitFor(t, "exec started", func(ev Event) bool { return is(TaskExecStarted, ns, id)(ev) && ev.ExecID == "e1" })
	if es.Pid == 0 || es.Pid == ts.Pid {
		t.Errorf("exec started pid %d (init %d)", es.Pid, ts.Pid)
	}
	ex := r.waitFor(t, "exec exit", func(ev Event) bool { return is(TaskExit, ns, id)(ev) && ev.ExecID == "e1" })
	if ex.Pid != es.Pid || ex.ExitStatus != 0 {
		t.Errorf("exec exit = %+v, want pid %d status 0", ex, es.Pid)
	}
	if _, err := c.ctrRun(ns, "tasks", "exec", "--exec-id", "e2", id, "/bin/false"); err == nil {
		t.Error("ctr exec /bin/false succeeded")
	}
	ex2 := r.waitFor(t, "failing exec exit", func(ev Event) bool { return is(TaskExit, ns, id)(ev) && ev.ExecID == "e2" })
	if ex2.ExitStatus != 1 {
		t.Errorf("exit status of /bin/false = %d", ex2.ExitStatus)
	}

	// Kill: the whole task, and containerd's state follows.
	kctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.Kill(kctx, ns, id, syscall.SIGKILL, true); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	exit := r.waitFor(t, "init exit", func(ev Event) bool { return is(TaskExit, ns, id)(ev) && ev.ExecID == "" })
	if exit.Pid != ts.Pid || exit.ExitStatus != 137 {
		t.Errorf("init exit = %+v, want pid %d status 137", exit, ts.Pid)
	}
	if info, err := w.Lookup(ctx, ns, id); err != nil || info.Status != StatusStopped || info.Pid != 0 {
		t.Errorf("Lookup after kill = %+v, %v; want status stopped, pid 0", info, err)
	}

	c.ctr(t, ns, "tasks", "rm", id)
	del := r.waitFor(t, "task delete", is(TaskDelete, ns, id))
	if del.ExecID != "" || del.Pid != ts.Pid || del.ExitStatus != 137 {
		t.Errorf("task delete = %+v", del)
	}
	if info, err := w.Lookup(ctx, ns, id); err != nil || info.Pid != 0 || info.Status != "" {
		t.Errorf("Lookup without task = %+v, %v; want pid 0, no status", info, err)
	}
	if err := w.Kill(ctx, ns, id, syscall.SIGKILL, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("Kill without task = %v, want ErrNotFound", err)
	}
	c.ctr(t, ns, "containers", "rm", id)
	r.waitFor(t, "container delete", is(ContainerDelete, ns, id))
	if _, err := w.Lookup(ctx, ns, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup of a deleted container = %v, want ErrNotFound", err)
	}
	t.Logf("events:\n%s", r.dump())
}

func TestNamespaceFilter(t *testing.T) {
	requiresRoot(t)
	c := startContainerd(t)
	const nsA, nsB = "watch-a", "watch-b"
	c.importImage(t, nsA)
	c.importImage(t, nsB)
	beforeA, beforeB := uniqueID("a0"), uniqueID("b0")
	c.run(t, nsA, beforeA, runOpts{})
	c.run(t, nsB, beforeB, runOpts{})

	w, r := startWatcher(t, c.address, []string{nsA})
	rs := r.waitFor(t, "resync", isResync)
	if got := find(rs.Containers, nsA, beforeA); got == nil || got.Pid == 0 || got.Status != StatusRunning {
		t.Errorf("resync entry of %s/%s = %+v", nsA, beforeA, got)
	}
	for _, ct := range rs.Containers {
		if ct.Namespace != nsA {
			t.Errorf("resync lists %s/%s outside the watched namespace", ct.Namespace, ct.ID)
		}
	}

	// Events of B happen first: once A's start has arrived, any event of B
	// would have arrived before it.
	idB, idA := uniqueID("b"), uniqueID("a")
	c.run(t, nsB, idB, runOpts{})
	c.ctr(t, nsB, "tasks", "exec", "--exec-id", "x", beforeB, "/bin/true")
	c.run(t, nsA, idA, runOpts{})
	r.waitFor(t, "task start in the watched namespace", is(TaskStart, nsA, idA))
	r.drain()
	for _, ev := range r.seen {
		if ev.Kind != Resync && ev.Namespace != nsA {
			t.Errorf("event from an unwatched namespace: %+v", ev)
		}
	}
	list, err := w.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 2 || find(list, nsA, idA) == nil || find(list, nsA, beforeA) == nil {
		t.Errorf("List = %+v, want the two containers of %s", list, nsA)
	}
	if _, err := w.Lookup(context.Background(), nsB, idB); err != nil {
		// Lookup is not filtered: the daemon may ask about a container a
		// hook registered.
		t.Errorf("Lookup in another namespace: %v", err)
	}
}

func TestList(t *testing.T) {
	requiresRoot(t)
	c := startContainerd(t)
	const ns = "watch-list"
	c.importImage(t, ns)
	web, sec, bare := uniqueID("web"), uniqueID("sec"), uniqueID("bare")
	c.run(t, ns, web, runOpts{
		labels:      map[string]string{"app": "web", "confine.profile": "web"},
		annotations: map[string]string{"confine.profile": "web", "org.example/team": "blue"},
	})
	c.run(t, ns, sec, runOpts{seccomp: true})
	c.ctr(t, ns, "containers", "create", testImage, bare, "/bin/true")

	// No Run: List connects on demand.
	w := New(c.address, nil, testLogger(t))
	defer w.Close()
	start := time.Now()
	list, err := w.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	t.Logf("List of %d containers took %v", len(list), time.Since(start))
	if len(list) != 3 {
		t.Fatalf("List returned %d containers, want 3: %+v", len(list), list)
	}

	got := find(list, ns, web)
	if got == nil {
		t.Fatalf("%s missing from %+v", web, list)
	}
	if got.Pid == 0 || got.Status != StatusRunning || got.Image != testImage ||
		got.Runtime != "io.containerd.runc.v2" || got.SpecSeccomp ||
		got.Labels["app"] != "web" || got.Labels["confine.profile"] != "web" ||
		got.Annotations["confine.profile"] != "web" || got.Annotations["org.example/team"] != "blue" ||
		time.Since(got.CreatedAt) > time.Minute {
		t.Errorf("entry of %s = %+v", web, got)
	}
	checkInContainer(t, got.Pid, ns, web)

	got = find(list, ns, sec)
	if got == nil || got.Pid == 0 || !got.SpecSeccomp {
		t.Errorf("entry of %s (run with --seccomp) = %+v, want a pid and SpecSeccomp", sec, got)
	}
	got = find(list, ns, bare)
	if got == nil || got.Pid != 0 || got.Status != "" || got.Labels == nil || got.Annotations == nil {
		t.Errorf("entry of %s (no task) = %+v, want pid 0, no status, non-nil maps", bare, got)
	}
	if w.Connected() {
		t.Error("Connected() = true without Run")
	}
}

func TestContainerdRestart(t *testing.T) {
	requiresRoot(t)
	c := startContainerd(t)
	const ns = "watch-restart"
	c.importImage(t, ns)
	keep, victim := uniqueID("keep"), uniqueID("victim")
	c.run(t, ns, keep, runOpts{labels: map[string]string{"app": "keep"}})
	c.run(t, ns, victim, runOpts{})

	w, r := startWatcher(t, c.address, nil)
	rs := r.waitFor(t, "first resync", isResync)
	before := find(rs.Containers, ns, keep)
	vict := find(rs.Containers, ns, victim)
	if before == nil || before.Pid == 0 || vict == nil || vict.Pid == 0 {
		t.Fatalf("first resync = %+v", rs.Containers)
	}

	c.stop(t)
	deadline := time.Now().Add(10 * time.Second)
	for w.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("Connected() still true 10s after containerd stopped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The shim keeps the container alive without containerd.
	checkInContainer(t, before.Pid, ns, keep)
	lctx, lcancel := context.WithTimeout(context.Background(), time.Second)
	defer lcancel()
	if _, err := w.Lookup(lctx, ns, keep); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup with containerd down = %v, want an error other than not found", err)
	}
	// A container that dies while containerd is down must not come back
	// as running.
	if err := syscall.Kill(int(vict.Pid), syscall.SIGKILL); err != nil {
		t.Fatalf("killing pid %d of %s: %v", vict.Pid, victim, err)
	}
	time.Sleep(500 * time.Millisecond) // down for a while: backoff grows

	restarted := time.Now()
	c.start(t)
	rs = r.waitFor(t, "resync after the restart", isResync)
	took := time.Since(restarted)
	t.Logf("resync %v after containerd was started again", took)
	if took > 4*time.Second {
		t.Errorf("resync took %v after containerd came back; backoff is capped at %v", took, w.maxBackoff)
	}
	after := find(rs.Containers, ns, keep)
	if after == nil || after.Pid != before.Pid || after.Status != StatusRunning || after.Labels["app"] != "keep" {
		t.Errorf("resync entry of %s = %+v, want pid %d running", keep, after, before.Pid)
	}
	// containerd 1.6 lists the task as stopped; 2.x drops the task.
	v := find(rs.Containers, ns, victim)
	if v != nil {
		t.Logf("after the restart, %s killed while containerd was down: pid %d, status %q", victim, v.Pid, v.Status)
	}
	if v == nil || v.Pid != 0 || (v.Status != StatusStopped && v.Status != "") {
		t.Errorf("resync entry of %s = %+v: killed while containerd was down, want pid 0 and stopped or no task", victim, v)
	}
	if !w.Connected() {
		t.Error("Connected() = false after the resync")
	}

	// The new stream delivers events, and Kill goes through the new
	// connection.
	c.ctr(t, ns, "tasks", "exec", "--exec-id", "after", keep, "/bin/true")
	r.waitFor(t, "exec exit on the new stream", func(ev Event) bool { return is(TaskExit, ns, keep)(ev) && ev.ExecID == "after" })
	if err := w.Kill(context.Background(), ns, keep, syscall.SIGKILL, true); err != nil {
		t.Fatalf("Kill after the restart: %v", err)
	}
	exit := r.waitFor(t, "exit after kill", func(ev Event) bool { return is(TaskExit, ns, keep)(ev) && ev.ExecID == "" })
	if exit.ExitStatus != 137 || exit.Pid != before.Pid {
		t.Errorf("exit = %+v, want pid %d status 137", exit, before.Pid)
	}
}

func TestStartBeforeContainerd(t *testing.T) {
	requiresRoot(t)
	c := startContainerd(t)
	c.stop(t)
	w, r := startWatcher(t, c.address, nil)
	time.Sleep(1500 * time.Millisecond)
	if w.Connected() || w.Version() != "" {
		t.Fatalf("Connected() = %v, Version() = %q with containerd down", w.Connected(), w.Version())
	}
	r.drain()
	if len(r.seen) != 0 {
		t.Fatalf("events with containerd down:\n%s", r.dump())
	}
	c.start(t)
	up := time.Now()
	r.waitFor(t, "resync once containerd is up", isResync)
	if took := time.Since(up); took > 4*time.Second {
		t.Errorf("resync took %v after containerd came up", took)
	}
}
