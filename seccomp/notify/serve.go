package notify

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"syscall"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// work serves ready descriptors until Close writes the wake eventfd.
// Descriptors are registered EPOLLONESHOT: the worker that receives an
// event owns the descriptor until it re-arms it (or detaches it).
func (l *Listener) work() {
	defer l.working.Done()
	// One event at a time, so that ready descriptors spread over workers.
	events := make([]unix.EpollEvent, 1)
	for {
		n, err := unix.EpollWait(l.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			l.log.Error("waiting for seccomp notifications", logError, err)
			return
		}
		if n == 0 {
			continue
		}
		ev := events[0]
		if ev.Fd == int32(l.wakefd) {
			return
		}
		l.mu.Lock()
		s := l.served[ev.Fd]
		l.mu.Unlock()
		if s == nil {
			continue
		}
		if l.serve(s, ev.Events) {
			l.detach(s)
			continue
		}
		// Re-arm; still level-triggered, so pending notifications (and a
		// hang-up) are reported again at once.
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, s.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(s.fd)}); err != nil {
			l.log.Error("re-arming seccomp notify descriptor", logContainer, s.c.ID, logFD, s.fd, logError, err)
			l.detach(s)
		}
	}
}

// serve handles one readiness event of s and reports whether s is done:
// every task using its filter is gone (POLLHUP without POLLIN), or
// receiving keeps failing.
func (l *Listener) serve(s *served, events uint32) (done bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if events&unix.EPOLLIN != 0 {
		return l.receive(s)
	}
	return events&(unix.EPOLLHUP|unix.EPOLLERR) != 0
}

// receive answers one notification of s. It reports whether s should be
// given up.
func (l *Listener) receive(s *served) (giveUp bool) {
	fd := libseccomp.ScmpFd(s.fd)
	req, err := libseccomp.NotifReceive(fd)
	if err != nil {
		if errnoOf(err) == unix.ENOENT {
			// The trapped thread was interrupted or killed before we got it.
			l.gone.Add(1)
			return false
		}
		s.errs++
		l.log.Warn("receiving a seccomp notification", logContainer, s.c.ID, logNamespace, s.c.Namespace, logFD, s.fd, logError, err)
		if s.errs >= maxConsecutiveErrors {
			l.log.Error("giving up a seccomp notify descriptor after repeated errors; its trapped syscalls now fail with ENOSYS",
				logContainer, s.c.ID, logNamespace, s.c.Namespace, logPid, s.c.ProcessPid, logError, err)
			return true
		}
		return false
	}
	s.errs = 0
	l.trapped.Add(1)

	r := &Request{
		ID:           req.ID,
		PID:          int(req.Pid),
		Nr:           int(req.Data.Syscall),
		Arch:         req.Data.Arch.String(),
		InstrPointer: req.Data.InstrPointer,
		fd:           new(atomic.Int64),
	}
	copy(r.Args[:], req.Data.Args)
	r.Syscall = s.name(req.Data.Arch, req.Data.Syscall)
	r.fd.Store(int64(s.fd))
	resp := l.call(s.c, r)
	r.fd.Store(-1)

	out := &libseccomp.ScmpNotifResp{ID: req.ID}
	switch resp.Action {
	case ActionContinue:
		out.Flags = libseccomp.NotifRespFlagContinue
	case ActionErrno:
		out.Error = int32(resp.Errno)
		if resp.Errno == 0 {
			out.Error = int32(unix.EPERM)
		}
		l.denied.Add(1)
	default:
		l.log.Warn("seccomp notify handler returned an unknown action; denying", logContainer, s.c.ID, logPid, r.PID, logSyscall, r.Syscall, "action", resp.Action)
		out.Error = int32(unix.EPERM)
		l.denied.Add(1)
	}
	if err := libseccomp.NotifRespond(fd, out); err != nil {
		if errnoOf(err) == unix.ENOENT {
			l.gone.Add(1)
			return false
		}
		l.log.Warn("answering a seccomp notification", logContainer, s.c.ID, logPid, r.PID, logSyscall, r.Syscall, logError, err)
	}
	return false
}

// call runs the handler. A panic is logged and answered as if the agent
// were gone (ENOSYS): the daemon keeps serving the other syscalls.
func (l *Listener) call(c Container, r *Request) (resp Response) {
	defer func() {
		if p := recover(); p != nil {
			l.log.Error("seccomp notify handler panicked; answering ENOSYS", logContainer, c.ID, logPid, r.PID, logSyscall, r.Syscall,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp = Errno(syscall.ENOSYS)
		}
	}()
	return l.h.Handle(c, r)
}

// name resolves a syscall number, caching the answer (also "" for a
// number libseccomp does not know).
func (s *served) name(arch libseccomp.ScmpArch, nr libseccomp.ScmpSyscall) string {
	key := uint64(arch)<<32 | uint64(uint32(nr))
	if n, ok := s.names[key]; ok {
		return n
	}
	n, err := nr.GetNameByArch(arch)
	if err != nil {
		n = ""
	}
	s.names[key] = n
	return n
}
