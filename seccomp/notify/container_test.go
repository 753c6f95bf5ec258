package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
	"github.com/confinehq/confine/seccomp/notify"
)

// These tests run real containers: private containerd, Debian's runc
// 1.1.5, the kernel. They need root.

// writeFilter writes f as the OCI seccomp JSON that
// testbed.RunOptions.SeccompProfile takes.
func writeFilter(t *testing.T, f *specs.LinuxSeccomp) string {
	t.Helper()
	if f == nil {
		t.Fatal("no filter")
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seccomp.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func names(m map[string]int) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestRuncMessage records, with a bare socket, exactly what runc 1.1.5
// sends to listenerPath for a container's init and for an exec.
func TestRuncMessage(t *testing.T) {
	c := testbed.Start(t)
	dir, err := os.MkdirTemp("", "nt")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "raw.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type msg struct {
		raw []byte
		fds int
	}
	msgs := make(chan msg, 4)
	go func() {
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 1<<20), make([]byte, unix.CmsgSpace(8*4))
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, oobn, _, _, _ := conn.ReadMsgUnix(buf, oob)
			var fds []int
			if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, cm := range cmsgs {
					got, _ := unix.ParseUnixRights(&cm)
					fds = append(fds, got...)
				}
			}
			// Closing the only copy: this filter's trapped syscalls (acct,
			// which nothing calls) would fail with ENOSYS.
			for _, fd := range fds {
				_ = unix.Close(fd)
			}
			conn.Close()
			msgs <- msg{raw: append([]byte(nil), buf[:n]...), fds: len(fds)}
		}
	}()

	f, err := seccomp.GenerateNotify(nil, seccomp.HostArch(), nil, sock)
	if err != nil {
		t.Fatal(err)
	}
	f.Syscalls = []specs.LinuxSyscall{{Names: []string{"acct"}, Action: specs.ActNotify}}
	// linux.seccomp.listenerMetadata comes back as "metadata": a way to
	// tell the agent the mode and profile without a lookup.
	f.ListenerMetadata = "learn:web"
	ctx := bounded(t)
	r, err := c.Start(ctx, testbed.RunOptions{
		Args: []string{"sleep", "60"}, SeccompProfile: writeFilter(t, f),
		Annotations: map[string]string{profiles.LabelProfile: "web"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Exec(ctx, "true")
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("exec: %v, %+v", err, res)
	}

	var got []specs.ContainerProcessState
	for len(got) < 2 {
		select {
		case m := <-msgs:
			t.Logf("runc sent %d descriptor(s) with %s", m.fds, m.raw)
			if m.fds != 1 {
				t.Errorf("runc sent %d descriptors, want 1", m.fds)
			}
			var st specs.ContainerProcessState
			dec := json.NewDecoder(bytes.NewReader(m.raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&st); err != nil {
				t.Fatalf("runc's message is not a ContainerProcessState: %v", err)
			}
			got = append(got, st)
		case <-ctx.Done():
			t.Fatalf("got %d messages from runc, want 2 (create and exec)", len(got))
		}
	}
	initPid := int(r.Pid())
	wantBundleSuffix := "/" + c.Namespace + "/" + r.ID
	for i, st := range got {
		if st.Version == "" || len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName || st.State.ID != r.ID ||
			!strings.HasSuffix(st.State.Bundle, wantBundleSuffix) || st.State.Pid != initPid || st.Metadata != "learn:web" ||
			st.State.Annotations[profiles.LabelProfile] != "web" {
			t.Errorf("message %d: %+v", i, st)
		}
	}
	if got[0].State.Status != specs.StateCreating || got[0].Pid != initPid {
		t.Errorf("create message: status %q, pid %d; want creating, %d", got[0].State.Status, got[0].Pid, initPid)
	}
	if got[1].State.Status != specs.StateRunning || got[1].Pid != int(res.Pid) {
		t.Errorf("exec message: status %q, pid %d; want running, %d (the exec'd process)", got[1].State.Status, got[1].Pid, res.Pid)
	}
}

// TestLearnContainer learns a busybox workload through a learning filter
// that traps everything but the runtime floor, then runs it again with
// what was learned as known: the second run traps (almost) nothing.
func TestLearnContainer(t *testing.T) {
	c := testbed.Start(t)
	h := &recorder{}
	l := listen(t, h)
	args := []string{"sh", "-c", "ls /; mkdir /tmp/a; cat /etc/passwd"}

	f, err := seccomp.GenerateNotify(nil, seccomp.HostArch(), nil, l.Path())
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background(), testbed.RunOptions{Args: args, SeccompProfile: writeFilter(t, f)})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != 0 || !strings.Contains(res.Stdout, "root:x:0:0") || !strings.Contains(res.Stdout, "etc") {
		t.Fatalf("learning run: exit %d, stdout %q, stderr %q", res.ExitStatus, res.Stdout, res.Stderr)
	}
	seen := h.syscalls()
	t.Logf("first run trapped %d syscalls: %v", l.Stats().Trapped, seen)
	if seen["mkdir"] == 0 && seen["mkdirat"] == 0 {
		t.Errorf("mkdir not trapped: %v", names(seen))
	}
	// What busybox's sh, ls and cat need beyond the runtime floor: sh
	// forks ls and cat (clone, wait4), ls asks the terminal (ioctl).
	for _, want := range []string{"ioctl", "getuid", "clone", "wait4"} {
		if seen[want] == 0 {
			t.Errorf("%s not trapped: %v", want, names(seen))
		}
	}
	// The runtime floor is allowed outright: runc's init makes those calls
	// before it has handed the descriptor over.
	for _, floor := range seccomp.RuntimeFloor {
		if seen[floor] > 0 {
			t.Errorf("runtime-floor syscall %s was trapped", floor)
		}
	}
	for _, rec := range h.all() {
		if rec.c.ID != res.ID || rec.c.Namespace != c.Namespace || rec.c.ProcessPid != int(res.Pid) || rec.c.Status != "creating" {
			t.Fatalf("container %+v; want id %s, namespace %s, pid %d", rec.c, res.ID, c.Namespace, res.Pid)
		}
		if rec.r.Syscall == "" {
			t.Errorf("unnamed syscall %d (%s)", rec.r.Nr, rec.r.Arch)
		}
	}
	eventually(t, "descriptor released after the container exited", func() bool { return l.Stats().Active == 0 })

	before := l.Stats().Trapped
	h.mu.Lock()
	h.records = nil
	h.mu.Unlock()
	f, err = seccomp.GenerateNotify(nil, seccomp.HostArch(), names(seen), l.Path())
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.Run(context.Background(), testbed.RunOptions{Args: args, SeccompProfile: writeFilter(t, f)})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != 0 {
		t.Fatalf("second run: exit %d, stderr %q", res.ExitStatus, res.Stderr)
	}
	again := l.Stats().Trapped - before
	t.Logf("second run trapped %d syscalls: %v", again, h.syscalls())
	// The same program may take a rare path (a retried syscall, a signal):
	// a handful is "almost nothing", mkdir again is a bug.
	if again > 3 || h.syscalls()["mkdir"] > 0 {
		t.Errorf("second run with the learned set trapped %d syscalls: %v", again, h.syscalls())
	}
	if st := l.Stats(); st.Attached != 2 || st.Rejected != 0 || st.Denied != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestEnforceNotifyContainer denies mkdir through the listener: the
// handler sees the call from a process of the container and answers
// EPERM, which the workload reports.
func TestEnforceNotifyContainer(t *testing.T) {
	c := testbed.Start(t)
	type seen struct {
		syscall, path, cgroup string
		pid                   int
		err                   error
	}
	var mu sync.Mutex
	var calls []seen
	h := notify.HandlerFunc(func(_ notify.Container, r *notify.Request) notify.Response {
		s := seen{syscall: r.Syscall, pid: r.PID}
		addr := r.Args[0]
		if r.Syscall == "mkdirat" {
			addr = r.Args[1]
		}
		s.path, s.err = r.ReadString(addr, notify.MaxPath)
		if cg, err := os.ReadFile("/proc/" + itoa(r.PID) + "/cgroup"); err == nil && r.Valid() {
			s.cgroup = string(cg)
		}
		mu.Lock()
		calls = append(calls, s)
		mu.Unlock()
		return notify.Errno(unix.EPERM)
	})
	l := listen(t, h)
	p := &profiles.Profile{Name: "no-mkdir", Seccomp: profiles.Seccomp{Deny: profiles.List{"mkdir", "mkdirat"}}}
	f, err := seccomp.GenerateEnforceNotify(p, seccomp.HostArch(), l.Path())
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background(), testbed.RunOptions{
		Args:           []string{"sh", "-c", "mkdir /tmp/a; echo rc=$?; ls -d /tmp/a"},
		SeccompProfile: writeFilter(t, f),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Stdout, "rc=1") || !strings.Contains(res.Stderr, "Operation not permitted") {
		t.Fatalf("mkdir was not refused with EPERM: exit %d, stdout %q, stderr %q", res.ExitStatus, res.Stdout, res.Stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 {
		t.Fatalf("handler saw %+v, want one mkdir", calls)
	}
	s := calls[0]
	if (s.syscall != "mkdir" && s.syscall != "mkdirat") || s.path != "/tmp/a" || s.err != nil {
		t.Errorf("handler saw %+v", s)
	}
	// The PID is a process of this container (host PID namespace).
	if !strings.Contains(s.cgroup, "/"+c.Namespace+"/"+res.ID) {
		t.Errorf("pid %d is not in the container's cgroup: %q", s.pid, s.cgroup)
	}
	if st := l.Stats(); st.Trapped != 1 || st.Denied != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestCloseWhileContainerRuns closes the listener under a running learning
// container: its trapped syscalls then fail with ENOSYS (mkdir reports
// "Function not implemented"), and nothing hangs.
func TestCloseWhileContainerRuns(t *testing.T) {
	c := testbed.Start(t)
	h := &recorder{}
	l := listen(t, h)
	f, err := seccomp.GenerateNotify(nil, seccomp.HostArch(), nil, l.Path())
	if err != nil {
		t.Fatal(err)
	}
	ctx := bounded(t)
	r, err := c.Start(ctx, testbed.RunOptions{
		Args:           []string{"sh", "-c", "echo ready; while [ ! -e /tmp/go ]; do usleep 10000; done; mkdir /tmp/b; echo mkdir=$?"},
		SeccompProfile: writeFilter(t, f),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	eventually(t, "container ready", func() bool { return strings.Contains(r.Stdout(), "ready") })
	recs := h.all()
	if len(recs) == 0 {
		t.Fatal("nothing trapped before ready")
	}
	bundle := recs[0].c.Bundle

	closeBounded(t, l)
	// Let the container go on: /tmp is in its rootfs, mounted in the bundle.
	if err := os.WriteFile(filepath.Join(bundle, "rootfs", "tmp", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	status, err := r.Wait(ctx)
	if err != nil {
		t.Fatalf("container did not finish after the listener closed: %v (stdout %q, stderr %q)", err, r.Stdout(), r.Stderr())
	}
	t.Logf("exit %d, stdout %q, stderr %q", status, r.Stdout(), r.Stderr())
	if !strings.Contains(r.Stderr(), "Function not implemented") {
		t.Errorf("mkdir after Close did not fail with ENOSYS: exit %d, stdout %q, stderr %q", status, r.Stdout(), r.Stderr())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestCreateAfterClose: once the listener is closed its socket is gone,
// and runc 1.1.5 refuses to create a container whose filter names it
// (it fails to connect) instead of starting one whose trapped syscalls
// would wait for an agent that never answers.
func TestCreateAfterClose(t *testing.T) {
	c := testbed.Start(t)
	l := listen(t, &recorder{})
	f, err := seccomp.GenerateNotify(nil, seccomp.HostArch(), nil, l.Path())
	if err != nil {
		t.Fatal(err)
	}
	closeBounded(t, l)
	r, err := c.Start(bounded(t), testbed.RunOptions{Args: []string{"true"}, SeccompProfile: writeFilter(t, f)})
	if err == nil {
		r.Close()
		t.Fatal("runc created a container whose seccomp agent is gone")
	}
	if !strings.Contains(err.Error(), "failed to connect with seccomp agent") {
		t.Errorf("create failed, but not for the missing agent: %v", err)
	}
}

// TestExecContainer: a process exec'd into a container with a notify
// filter gets its own filter and descriptor, which the listener serves
// with the exec's identity (status running, its own pid).
func TestExecContainer(t *testing.T) {
	c := testbed.Start(t)
	h := &recorder{}
	l := listen(t, h)
	f, err := seccomp.GenerateNotify(nil, seccomp.HostArch(), nil, l.Path())
	if err != nil {
		t.Fatal(err)
	}
	ctx := bounded(t)
	r, err := c.Start(ctx, testbed.RunOptions{Args: []string{"sleep", "60"}, SeccompProfile: writeFilter(t, f)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Exec(ctx, "mkdir", "/tmp/x")
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("exec: %v, %+v", err, res)
	}
	var found bool
	for _, rec := range h.all() {
		if rec.r.Syscall != "mkdir" && rec.r.Syscall != "mkdirat" {
			continue
		}
		found = true
		if rec.c.Status != "running" || rec.c.ProcessPid != int(res.Pid) || rec.c.Pid != int(r.Pid()) || rec.c.ID != r.ID {
			t.Errorf("exec's mkdir came with %+v; want status running, process pid %d, init pid %d", rec.c, res.Pid, r.Pid())
		}
	}
	if !found {
		t.Errorf("the exec's mkdir was not trapped: %v", names(h.syscalls()))
	}
	if st := l.Stats(); st.Attached != 2 {
		t.Errorf("stats %+v, want 2 descriptors (init and exec)", st)
	}
}
