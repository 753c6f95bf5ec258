package notify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Log field names.
const (
	logPath      = "path"
	logContainer = "container"
	logNamespace = "namespace"
	logPid       = "pid"
	logSyscall   = "syscall"
	logFD        = "fd"
	logError     = "error"
	logPeerPid   = "peer_pid"
	logPeerUID   = "peer_uid"
)

// workers is the number of goroutines serving notify descriptors: one
// descriptor is served by one worker at a time, so this bounds how many
// containers' trapped syscalls are answered in parallel (and the threads
// blocked in epoll_wait).
const workers = 4

// readTimeout bounds reading a runtime's message once it has connected.
const readTimeout = 5 * time.Second

// maxConsecutiveErrors is how many unexpected receive errors in a row end
// the service of a descriptor (instead of spinning on it).
const maxConsecutiveErrors = 8

// notifyFDLink is what /proc/self/fd/N reads for a seccomp notify descriptor.
const notifyFDLink = "anon_inode:seccomp notify"

// ErrClosed is returned by Adopt after Close.
var ErrClosed = errors.New("seccomp notify listener closed")

// Listener accepts notify descriptors from runtimes on a unix socket and
// serves them. See the package documentation.
type Listener struct {
	path string
	h    Handler
	obs  FDObserver // h, when it implements FDObserver
	log  *slog.Logger

	ln     *net.UnixListener
	sockID fileID // the socket file we created, to remove only ours

	epfd   int
	wakefd int // eventfd: readable once Close wants the workers gone

	mu     sync.Mutex
	closed bool
	served map[int32]*served // by descriptor number
	conns  map[*net.UnixConn]struct{}

	accepting sync.WaitGroup // the accept loop and connection handlers
	working   sync.WaitGroup // the workers
	closeOnce sync.Once
	closeErr  error

	trapped, denied, gone, attached, rejected atomic.Uint64
}

// served is one notify descriptor being served.
type served struct {
	// mu is held by the worker serving the descriptor. EPOLLONESHOT
	// already gives a worker exclusive use of it; the mutex makes that
	// visible to the race detector (it never waits).
	mu    sync.Mutex
	fd    int
	c     Container
	names map[uint64]string // syscall names by arch<<32 | nr
	errs  int               // unexpected receive errors in a row
}

type fileID struct{ dev, ino uint64 }

// Listen creates the unix socket path (mode 0600, replacing a stale one)
// and serves the notify descriptors runtimes send to it, calling h for
// every trapped syscall. The socket appears at path only once it accepts
// connections. It is an error if another process is accepting on path.
// When h also implements [FDObserver] it is told about every descriptor
// served. log receives operational messages (nil: discarded).
func Listen(path string, h Handler, log *slog.Logger) (*Listener, error) {
	if h == nil {
		return nil, fmt.Errorf("seccomp notify listener %s: no handler", path)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("seccomp notify listener %s: path is not absolute", path)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+strconv.Itoa(os.Getpid()))
	for _, p := range []string{path, tmp} {
		if len(p) >= len(unix.RawSockaddrUnix{}.Path) {
			return nil, fmt.Errorf("seccomp notify listener %s: path longer than a unix socket address allows (%d bytes)", p, len(unix.RawSockaddrUnix{}.Path)-1)
		}
	}
	if err := checkStale(path); err != nil {
		return nil, err
	}

	l := &Listener{
		path:   path,
		h:      h,
		log:    log.With(logPath, path),
		epfd:   -1,
		wakefd: -1,
		served: map[int32]*served{},
		conns:  map[*net.UnixConn]struct{}{},
	}
	l.obs, _ = h.(FDObserver)
	fail := func(err error) (*Listener, error) {
		if l.ln != nil {
			_ = l.ln.Close()
		}
		_ = os.Remove(tmp)
		if l.epfd >= 0 {
			_ = unix.Close(l.epfd)
		}
		if l.wakefd >= 0 {
			_ = unix.Close(l.wakefd)
		}
		return nil, fmt.Errorf("seccomp notify listener %s: %w", path, err)
	}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fail(fmt.Errorf("epoll_create1: %w", err))
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fail(fmt.Errorf("eventfd: %w", err))
	}
	// Level-triggered and not one-shot: once written, every worker sees it.
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.wakefd)}); err != nil {
		return fail(fmt.Errorf("epoll_ctl: %w", err))
	}

	// Bind under a temporary name, restrict it, then rename it into place:
	// path never exists with looser permissions or without a listener.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail(err)
	}
	if l.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"}); err != nil {
		return fail(err)
	}
	l.ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if l.sockID, err = statID(path); err != nil {
		_ = os.Remove(path)
		return fail(err)
	}

	l.working.Add(workers)
	for range workers {
		go l.work()
	}
	l.accepting.Add(1)
	go l.acceptLoop()
	l.log.Info("seccomp notify listener ready")
	return l, nil
}

// checkStale fails when a process accepts on path; a stale socket (or
// none) is fine: Listen replaces it.
func checkStale(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("seccomp notify listener %s: %w", path, err)
	}
	if st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("seccomp notify listener %s: exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil // nobody accepts: stale
	}
	_ = c.Close()
	return fmt.Errorf("seccomp notify listener %s: another process is accepting on it", path)
}

func statID(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{dev: st.Dev, ino: st.Ino}, nil
}

// Path returns the socket path: the listenerPath for filters.
func (l *Listener) Path() string { return l.path }

// Stats returns the counters.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	active := len(l.served)
	l.mu.Unlock()
	return Stats{
		Trapped:  l.trapped.Load(),
		Denied:   l.denied.Load(),
		Gone:     l.gone.Load(),
		Attached: l.attached.Load(),
		Active:   active,
		Rejected: l.rejected.Load(),
	}
}

// FDs returns the descriptors served now. They stay owned by the
// listener: dup one to keep it (for systemd's store, sd_notify dups it).
func (l *Listener) FDs() []FD {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]FD, 0, len(l.served))
	for _, s := range l.served {
		out = append(out, FD{Fd: s.fd, Container: s.c})
	}
	return out
}

// Adopt serves a notify descriptor obtained elsewhere, for example one
// systemd's file descriptor store gave back after a restart, for
// container c. The listener owns fd from then on, also on error (it is
// closed: the filter's trapped syscalls then fail with ENOSYS). A stored
// descriptor that is neither adopted nor closed leaves the trapped
// syscalls of its container blocked for good.
func (l *Listener) Adopt(fd int, c Container) error {
	if err := checkNotifyFD(fd); err != nil {
		_ = unix.Close(fd)
		return fmt.Errorf("adopting notify descriptor of container %s: %w", c.ID, err)
	}
	unix.CloseOnExec(fd)
	if err := l.attach(fd, c); err != nil {
		return fmt.Errorf("adopting notify descriptor of container %s: %w", c.ID, err)
	}
	return nil
}

// checkNotifyFD verifies that fd is a seccomp notify descriptor.
func checkNotifyFD(fd int) error {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return fmt.Errorf("descriptor %d: %w", fd, err)
	}
	if target != notifyFDLink {
		return fmt.Errorf("descriptor %d is %q, not a seccomp notify descriptor", fd, target)
	}
	return nil
}

// Close stops accepting (removing the socket), stops serving and closes
// every notify descriptor: their filters' trapped syscalls fail with
// ENOSYS from then on. It returns once every goroutine of the listener has
// ended, after the handler calls in progress. Calling it again returns the
// first result.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		conns := make([]*net.UnixConn, 0, len(l.conns))
		for c := range l.conns {
			conns = append(conns, c)
		}
		l.mu.Unlock()

		// The socket first: a runtime must not find a path nobody accepts on.
		if id, err := statID(l.path); err == nil && id == l.sockID {
			if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				l.closeErr = fmt.Errorf("seccomp notify listener %s: removing the socket: %w", l.path, err)
			}
		}
		_ = l.ln.Close()
		for _, c := range conns {
			_ = c.Close()
		}
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		if _, err := unix.Write(l.wakefd, one[:]); err != nil {
			l.log.Error("waking the seccomp notify workers", logError, err)
		}
		l.working.Wait()
		l.accepting.Wait()

		// Nothing else touches served now.
		for key, s := range l.served {
			if l.obs != nil {
				l.obs.Detached(s.c, s.fd)
			}
			_ = unix.Close(s.fd)
			delete(l.served, key)
		}
		_ = unix.Close(l.epfd)
		_ = unix.Close(l.wakefd)
		l.log.Info("seccomp notify listener closed")
	})
	return l.closeErr
}

func (l *Listener) acceptLoop() {
	defer l.accepting.Done()
	for {
		conn, err := l.ln.AcceptUnix()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: wait a little rather than spin.
			l.log.Error("accepting on the seccomp notify socket", logError, err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			_ = conn.Close()
			return
		}
		l.conns[conn] = struct{}{}
		l.accepting.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.accepting.Done()
			l.handleConn(conn)
			l.mu.Lock()
			delete(l.conns, conn)
			l.mu.Unlock()
			_ = conn.Close()
		}()
	}
}

func (l *Listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// handleConn receives one message and its descriptors.
func (l *Listener) handleConn(conn *net.UnixConn) {
	var fds []int
	closeFDs := func(keep int) {
		for _, fd := range fds {
			if fd != keep {
				_ = unix.Close(fd)
			}
		}
	}
	reject := func(msg string, args ...any) {
		closeFDs(-1)
		l.rejected.Add(1)
		l.log.Warn(msg, args...)
	}

	cred, err := peerCred(conn)
	if err != nil {
		reject("seccomp notify connection: reading the peer's credentials", logError, err)
		return
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Geteuid() {
		reject("seccomp notify connection refused: peer is not root", logPeerPid, cred.Pid, logPeerUID, cred.Uid)
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(readTimeout))

	data := make([]byte, 0, 64<<10)
	oob := make([]byte, unix.CmsgSpace(maxFDs*4))
	var (
		c   Container
		idx int
	)
	for {
		if len(data) == cap(data) {
			if cap(data) >= maxMessage {
				reject("seccomp notify connection: message too long", logPeerPid, cred.Pid, "limit", maxMessage)
				return
			}
			data = append(make([]byte, 0, min(2*cap(data), maxMessage)), data...)
		}
		n, oobn, flags, _, err := conn.ReadMsgUnix(data[len(data):cap(data)], oob)
		if oobn > 0 {
			got, perr := parseRights(oob[:oobn])
			fds = append(fds, got...)
			if perr != nil {
				reject("seccomp notify connection: reading the descriptors", logPeerPid, cred.Pid, logError, perr)
				return
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			reject("seccomp notify connection: too many descriptors, some were lost", logPeerPid, cred.Pid, "limit", maxFDs)
			return
		}
		data = data[:len(data)+n]
		var perr error
		c, idx, perr = parseMessage(data, len(fds))
		if perr == nil {
			break
		}
		if !errors.Is(perr, errIncomplete) {
			reject("seccomp notify connection: bad message", logPeerPid, cred.Pid, logError, perr)
			return
		}
		if err != nil || n == 0 {
			if err == nil {
				err = errors.New("connection closed")
			}
			reject("seccomp notify connection: incomplete message", logPeerPid, cred.Pid, "bytes", len(data), logError, err)
			return
		}
	}
	fd := fds[idx]
	closeFDs(fd)
	fds = nil
	if err := checkNotifyFD(fd); err != nil {
		_ = unix.Close(fd)
		l.rejected.Add(1)
		l.log.Warn("seccomp notify connection: not a notify descriptor", logContainer, c.ID, logError, err)
		return
	}
	if err := l.attach(fd, c); err != nil {
		l.log.Warn("seccomp notify descriptor dropped", logContainer, c.ID, logNamespace, c.Namespace, logPid, c.ProcessPid, logError, err)
	}
}

func peerCred(conn *net.UnixConn) (*unix.Ucred, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, cerr
}

// parseRights returns every descriptor in the control messages; the
// error reports a message that could not be parsed (descriptors found
// before it are still returned, to be closed).
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parsing control messages: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return fds, fmt.Errorf("parsing SCM_RIGHTS: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

// attach starts serving fd. On error fd is closed.
func (l *Listener) attach(fd int, c Container) error {
	if l.isClosed() {
		_ = unix.Close(fd)
		return ErrClosed
	}
	if l.obs != nil {
		l.obs.Attached(c, fd)
	}
	s := &served{fd: fd, c: c, names: map[uint64]string{}}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.drop(s)
		return ErrClosed
	}
	// Under mu, so that Close cannot close fd in between.
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(fd)}); err != nil {
		l.mu.Unlock()
		l.drop(s)
		return fmt.Errorf("epoll_ctl on notify descriptor %d: %w", fd, err)
	}
	l.served[int32(fd)] = s
	l.mu.Unlock()
	l.attached.Add(1)
	l.log.Debug("serving seccomp notify descriptor", logContainer, c.ID, logNamespace, c.Namespace, logPid, c.ProcessPid, logFD, fd)
	return nil
}

// drop tells the observer and closes the descriptor of s, which is not
// (or no longer) in l.served.
func (l *Listener) drop(s *served) {
	if l.obs != nil {
		l.obs.Detached(s.c, s.fd)
	}
	_ = unix.Close(s.fd)
}

// detach stops serving s and closes its descriptor; only the worker
// holding s calls it.
func (l *Listener) detach(s *served) {
	l.mu.Lock()
	delete(l.served, int32(s.fd))
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	l.mu.Unlock()
	l.drop(s)
	l.log.Debug("seccomp notify descriptor done", logContainer, s.c.ID, logNamespace, s.c.Namespace, logPid, s.c.ProcessPid, logFD, s.fd)
}

// errnoOf returns the errno in err, or 0.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}
