package egress

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/confinehq/confine/monitor/proc"
	"golang.org/x/sys/unix"
)

// nsID names a namespace: the device and inode of its nsfs file.
type nsID = proc.NamespaceID

func fstatNS(f *os.File) (nsID, error) { return proc.FstatNamespace(f) }

// hostNamespaces returns the network namespaces that are never ours to
// change: this process's own (the daemon runs in the host's) and PID 1's
// (the host's) where it can be read. Reading another process's namespace
// needs ptrace read access: where PID 1 holds capabilities this process
// lacks (a VM's init, a hardened host) it is EACCES, and the daemon's own
// namespace has to stand for the host's.
func hostNamespaces(fs proc.FS) ([]nsID, error) {
	self, err := fs.StatNamespace(proc.Self, "net")
	if err != nil {
		return nil, fmt.Errorf("reading this process's network namespace: %w", err)
	}
	out := []nsID{self}
	if init, err := fs.StatNamespace(1, "net"); err == nil && init != self {
		out = append(out, init)
	}
	return out, nil
}

// SharesHostNetwork reports whether process pid runs in the host's network
// namespace (PID 1's) or in this process's own. Such containers cannot be
// given an egress table: it would filter the host. The daemon shows them as
// "host network" and relies on /proc monitoring for them.
func SharesHostNetwork(fs proc.FS, pid int) (bool, error) {
	id, err := fs.StatNamespace(pid, "net")
	if err != nil {
		return false, fmt.Errorf("reading the network namespace of pid %d: %w", pid, err)
	}
	hosts, err := hostNamespaces(fs)
	if err != nil {
		return false, err
	}
	for _, h := range hosts {
		if h == id {
			return true, nil
		}
	}
	return false, nil
}

// target is the process whose network namespace a Rules changes. The pidfd
// pins the process's identity: a namespace file opened through /proc/PID is
// that process's only while the pidfd says it has not exited.
type target struct {
	fs    proc.FS
	pid   int
	pidfd *os.File // non-blocking, registered with the runtime poller
	ns    nsID
}

// openTarget resolves pid to a process and its network namespace and
// refuses the host's.
func openTarget(fs proc.FS, pid int) (*target, error) {
	p, err := fs.Proc(pid)
	if err != nil {
		return nil, err
	}
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("opening pidfd of pid %d: %w", pid, err)
	}
	t := &target{fs: fs, pid: pid, pidfd: os.NewFile(uintptr(fd), "pidfd:"+strconv.Itoa(pid))}
	// The pidfd was opened by PID: check it names the process whose start
	// time was read, not one that reused the PID in between.
	if _, err := fs.ProcKey(p.Key()); err != nil {
		t.close()
		return nil, err
	}
	f, err := t.openNS()
	if err != nil {
		t.close()
		return nil, err
	}
	defer f.Close()
	if t.ns, err = fstatNS(f); err != nil {
		t.close()
		return nil, fmt.Errorf("reading the network namespace of pid %d: %w", pid, err)
	}
	hosts, err := hostNamespaces(fs)
	if err != nil {
		t.close()
		return nil, err
	}
	for _, h := range hosts {
		if h == t.ns {
			t.close()
			return nil, fmt.Errorf("pid %d is in network namespace %s: %w", pid, t.ns, ErrHostNetwork)
		}
	}
	return t, nil
}

// openNS opens the process's network namespace and checks that the process
// was still alive once it was open, so the namespace is the process's.
func (t *target) openNS() (*os.File, error) {
	f, err := t.fs.OpenNamespace(t.pid, "net")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return nil, fmt.Errorf("opening the network namespace of pid %d: %w", t.pid, ErrGone)
		}
		return nil, fmt.Errorf("opening the network namespace of pid %d: %w", t.pid, err)
	}
	if t.exited() {
		f.Close()
		return nil, fmt.Errorf("opening the network namespace of pid %d: %w", t.pid, ErrGone)
	}
	if t.ns != (nsID{}) {
		id, err := fstatNS(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("reading the network namespace of pid %d: %w", t.pid, err)
		}
		if id != t.ns {
			f.Close()
			return nil, fmt.Errorf("pid %d moved from network namespace %s to %s: %w", t.pid, t.ns, id, ErrGone)
		}
	}
	return f, nil
}

// exited reports whether the process has exited: a pidfd polls readable
// then.
func (t *target) exited() bool {
	rc, err := t.pidfd.SyscallConn()
	if err != nil {
		return true
	}
	var done bool
	if err := rc.Control(func(fd uintptr) { done = pidfdReadable(fd) }); err != nil {
		return true
	}
	return done
}

func pidfdReadable(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err != nil || (n > 0 && fds[0].Revents != 0)
	}
}

// waitExit blocks until the process exits (true) or the pidfd is closed
// (false). It parks the goroutine in the runtime poller, not a thread.
func (t *target) waitExit() bool {
	rc, err := t.pidfd.SyscallConn()
	if err != nil {
		return false
	}
	var exited bool
	err = rc.Read(func(fd uintptr) bool {
		exited = pidfdReadable(fd)
		return exited
	})
	return err == nil && exited
}

func (t *target) close() { t.pidfd.Close() }
