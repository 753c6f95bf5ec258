package runctest

import (
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
)

// agent is a minimal seccomp agent: it takes the listener fd runc sends,
// records every trapped syscall and answers with answer (0: continue).
type agent struct {
	t      *testing.T
	path   string
	answer syscall.Errno
	mu     sync.Mutex
	seen   map[string]bool
	done   chan struct{}
}

func startAgent(t *testing.T, answer syscall.Errno) *agent {
	t.Helper()
	a := &agent{t: t, path: filepath.Join(t.TempDir(), "agent.sock"), answer: answer, seen: map[string]bool{}, done: make(chan struct{})}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); <-a.done })
	go a.serve(ln)
	return a
}

func (a *agent) serve(ln *net.UnixListener) {
	defer close(a.done)
	conn, err := ln.AcceptUnix()
	if err != nil {
		return
	}
	defer conn.Close()
	buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(4*8))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		a.t.Errorf("agent: reading the listener fd: %v", err)
		return
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		a.t.Errorf("agent: no control message: %v", err)
		return
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		a.t.Errorf("agent: no fd: %v", err)
		return
	}
	fd := fds[0]
	defer unix.Close(fd)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 100); err != nil && err != unix.EINTR {
			return
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			if pfd[0].Revents&unix.POLLHUP != 0 {
				return // every task using the filter is gone
			}
			continue
		}
		req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
		if err != nil {
			continue
		}
		name, _ := req.Data.Syscall.GetNameByArch(req.Data.Arch)
		a.mu.Lock()
		a.seen[name] = true
		a.mu.Unlock()
		resp := &libseccomp.ScmpNotifResp{ID: req.ID, Flags: libseccomp.NotifRespFlagContinue}
		if a.answer != 0 {
			resp = &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(a.answer)}
		}
		_ = libseccomp.NotifRespond(libseccomp.ScmpFd(fd), resp)
	}
}

func (a *agent) trapped() []string {
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for n := range a.seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestNotifyFiltersRunc loads the learning and enforce-with-alerts filters
// into runc 1.1.5, which must accept them (no NOTIFY on write, a listener
// path) and deliver exactly the syscalls they are meant to trap.
func TestNotifyFiltersRunc(t *testing.T) {
	runc := runcPath(t)
	workload := append([]string{"execve", "exit_group", "write"}, busyboxSyscalls...)

	t.Run("learn", func(t *testing.T) {
		a := startAgent(t, 0)
		p := &profiles.Profile{Name: "learn", Mode: profiles.ModeLearn}
		f, err := seccomp.GenerateNotify(p, seccomp.HostArch(), []string{"execve", "exit_group"}, a.path)
		if err != nil {
			t.Fatal(err)
		}
		dir := bundle(t, runc, func(s *specs.Spec) {
			s.Process.Args = []string{"echo", "ok"}
			s.Process.NoNewPrivileges = true
			s.Linux.Seccomp = f
		})
		code, out := runRunc(t, runc, dir)
		if code != 0 || !strings.Contains(out, "ok") {
			t.Fatalf("exit %d, output %q", code, out)
		}
		got := strings.Join(a.trapped(), " ")
		t.Logf("trapped: %s", got)
		for _, n := range []string{"arch_prctl", "brk", "set_tid_address"} {
			if !strings.Contains(got, n) {
				t.Errorf("learning missed %s; trapped: %s", n, got)
			}
		}
		for _, n := range []string{"write", "execve", "fstatfs"} {
			if strings.Contains(" "+got+" ", " "+n+" ") {
				t.Errorf("%s trapped; trapped: %s", n, got)
			}
		}
	})

	t.Run("enforce with alerts", func(t *testing.T) {
		a := startAgent(t, syscall.EPERM)
		p := &profiles.Profile{Name: "enforce", Mode: profiles.ModeEnforce, Seccomp: profiles.Seccomp{Allow: profiles.List(workload)},
			Privileges: profiles.Privileges{NoNewPrivileges: profiles.Bool(true)}}
		f, err := seccomp.GenerateEnforceNotify(p, seccomp.HostArch(), a.path)
		if err != nil {
			t.Fatal(err)
		}
		dir := bundle(t, runc, func(s *specs.Spec) {
			s.Process.Args = []string{"mkdir", "/tmp/x"}
			s.Process.NoNewPrivileges = true
			s.Linux.Seccomp = f
		})
		code, out := runRunc(t, runc, dir)
		if code != 1 || !strings.Contains(out, "Operation not permitted") {
			t.Fatalf("exit %d, output %q", code, out)
		}
		if got := a.trapped(); !contains(got, "mkdir") {
			t.Errorf("mkdir not reported; trapped: %v", got)
		}
	})
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
