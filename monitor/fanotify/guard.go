package fanotify

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/monitor/proc"
)

// Defaults for a zero GuardConfig field.
const (
	DefaultTimeout   = 2 * time.Second
	DefaultQueueSize = 1024
)

// Log field names.
const (
	logContainer = "container"
	logPID       = "pid"
	logTID       = "tid"
	logPath      = "path"
	logKind      = "kind"
	logSource    = "source"
	logError     = "error"
	logMounts    = "mounts"
	logRootfs    = "rootfs"
)

// readBufSize holds about 2,700 events (24 bytes each): one read drains a
// burst.
const readBufSize = 64 << 10

// Sentinel causes in Report.Err.
var (
	// ErrTimeout: Decide did not answer within GuardConfig.Timeout.
	ErrTimeout = errors.New("no decision in time")
	// ErrQueueFull: the decision queue was full.
	ErrQueueFull = errors.New("decision queue full")
	// ErrClosed: the guard was closing; the kernel allows what it did not
	// answer.
	ErrClosed = errors.New("guard closed")
)

// GuardConfig configures a Guard for one container.
type GuardConfig struct {
	// ID names the container in logs and errors.
	ID string
	// Pid is the container's init process in the host's PID namespace (the
	// pid of the createRuntime hook's state).
	Pid int
	// RootfsPath is the container's root file system as the host sees it:
	// the bundle's rootfs directory, an overlayfs mount of its own. It gets
	// the FAN_MARK_FILESYSTEM mark.
	RootfsPath string
	// Mounts are container-view destinations of mounts that are not on the
	// rootfs (volumes, binds, tmpfs; see MountsFromSpec). Each, and every
	// mount below it, gets a FAN_MARK_MOUNT mark.
	Mounts []string
	// Decide makes a verdict for an event that is not in the cache; see
	// RulesDecider. It runs on the guard's decision goroutine while the
	// requester is blocked, and must return quickly.
	Decide func(Event) Verdict
	// Report, if set, is called after an answer was written, for every
	// event whose verdict carries a Violation (cached or not) and every
	// event answered without a decision (timeout, full queue, error). It
	// is called from the guard's goroutines, possibly concurrently, and
	// delays other answers while it runs: hand the report off, do not block.
	Report func(Report)
	// Timeout bounds the time from reading an event to answering it
	// (default DefaultTimeout).
	Timeout time.Duration
	// FailOpen answers FAN_ALLOW when no decision can be made in time, the
	// queue is full or an event cannot be inspected; otherwise FAN_DENY.
	FailOpen bool
	// QueueSize bounds the events waiting for Decide (default
	// DefaultQueueSize).
	QueueSize int
	// CacheSize bounds the decision cache (default DefaultCacheSize; < 0
	// disables caching).
	CacheSize int
	// Log receives operational logs (default: discarded).
	Log *slog.Logger
	// Proc is the proc file system (default /proc). It must be the real
	// one: the guard reads /proc/self/fd, /proc/<tid>/syscall and mounts
	// through it.
	Proc proc.FS
}

// Stats count what a guard did.
type Stats struct {
	// Events is every permission event read.
	Events uint64
	// Host counts events from the guard's own mount namespace, allowed
	// without evaluation.
	Host uint64
	// Cached, Decided: answered from the cache, by Decide.
	Cached, Decided uint64
	// Allowed, Denied: the answers written (host events included).
	Allowed, Denied uint64
	// Timeouts, Overflows, Errors: answered by FailOpen.
	Timeouts, Overflows, Errors uint64
	// Waited is the total time from reading events to answering them:
	// Waited / (Allowed + Denied) is the mean time a requester waited on
	// the guard (after the kernel queued its event).
	Waited time.Duration
}

type counters struct {
	events, host, cached, decided, allowed, denied, timeouts, overflows, errors, waited atomic.Uint64
}

// Guard answers one container's fanotify permission events.
type Guard struct {
	cfg    GuardConfig
	log    *slog.Logger
	fs     proc.FS
	f      *os.File
	ownMnt string
	marked []string
	// rootMnt: see marker.rootMnt (RootMark).
	rootMnt uint64

	decide atomic.Pointer[func(Event) Verdict]
	cache  *cache
	interp interpWait
	queue  chan *pending
	stats  counters

	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
	errMu     sync.Mutex
	err       error
}

// pending is one event between reading and answering.
type pending struct {
	fd    int32
	start time.Time
	ev    Event
	key   cacheKey
	gen   uint64
	// interp is the ELF interpreter to expect from the same thread if this
	// exec is allowed.
	interp *fileID
	// loader, when set, is an ELF interpreter's exec found to be the
	// program at this open: decided first (see loaderRuns).
	loader *Event
	// noCache: the verdict is not stored.
	noCache bool
	// sysRead: the requester's syscall was read (Event.Flags, Write).
	sysRead  bool
	answered atomic.Bool
}

// sourceQuiet marks an answer that is neither counted by source nor
// reported: host events, events of a thread that died waiting, events
// that are not permission events.
const sourceQuiet Source = 0

// NewGuard creates the fanotify group of one container, marks its rootfs
// and mounts, and starts answering. Call it before the container's user
// code runs (at createRuntime) and Close it when the container is gone.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if cfg.Pid <= 0 {
		return nil, fmt.Errorf("fanotify guard for container %s: no init pid", cfg.ID)
	}
	if cfg.RootfsPath == "" {
		return nil, fmt.Errorf("fanotify guard for container %s (pid %d): no rootfs path", cfg.ID, cfg.Pid)
	}
	if cfg.Decide == nil {
		return nil, fmt.Errorf("fanotify guard for container %s (pid %d): no Decide function", cfg.ID, cfg.Pid)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	fs := cfg.Proc
	if fs == (proc.FS{}) {
		var err error
		if fs, err = proc.NewFS("/proc"); err != nil {
			return nil, fmt.Errorf("fanotify guard for container %s (pid %d): %w", cfg.ID, cfg.Pid, err)
		}
	}
	ownMnt, err := os.Readlink(fs.Path("self", "ns", "mnt"))
	if err != nil {
		return nil, fmt.Errorf("fanotify guard for container %s (pid %d): reading own mount namespace: %w", cfg.ID, cfg.Pid, err)
	}

	// A container's init has a mount namespace of its own, at createRuntime
	// already. A process in the guard's namespace is not a container: its
	// events would all be taken for host events.
	theirMnt, err := os.Readlink(fs.Path(strconv.Itoa(cfg.Pid), "ns", "mnt"))
	if err != nil {
		return nil, fmt.Errorf("fanotify guard for container %s (pid %d): reading its mount namespace: %w", cfg.ID, cfg.Pid, err)
	}
	if theirMnt == ownMnt {
		return nil, fmt.Errorf("fanotify guard for container %s (pid %d): the process shares the guard's mount namespace, it is not a container's init: %w", cfg.ID, cfg.Pid, ErrHostFilesystem)
	}

	fan, err := unix.FanotifyInit(
		unix.FAN_CLASS_CONTENT|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK|unix.FAN_UNLIMITED_QUEUE|unix.FAN_REPORT_TID,
		unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fanotify guard for container %s (pid %d): fanotify_init: %w", cfg.ID, cfg.Pid, err)
	}
	m := &marker{fan: fan, fs: fs, pid: cfg.Pid, id: cfg.ID, rootfs: cfg.RootfsPath, base: -1}
	defer m.close()
	if err := m.markRootfs(); err != nil {
		unix.Close(fan)
		return nil, fmt.Errorf("fanotify guard: %w", err)
	}
	marked, err := m.markMounts(cfg.Mounts)
	if err != nil {
		unix.Close(fan)
		return nil, fmt.Errorf("fanotify guard: %w", err)
	}

	g := &Guard{
		cfg:     cfg,
		log:     cfg.Log.With(logContainer, cfg.ID, logPID, cfg.Pid),
		fs:      fs,
		f:       os.NewFile(uintptr(fan), "fanotify"),
		ownMnt:  ownMnt,
		marked:  marked,
		rootMnt: m.rootMnt,
		cache:   newCache(cfg.CacheSize),
		queue:   make(chan *pending, cfg.QueueSize),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	d := cfg.Decide
	g.decide.Store(&d)
	g.wg.Add(2)
	go g.read()
	go g.work()
	go func() { g.wg.Wait(); close(g.done) }()
	g.log.Info("fanotify guard started", logRootfs, cfg.RootfsPath, logMounts, marked)
	return g, nil
}

// Marked returns the mount destinations that got a mount mark.
func (g *Guard) Marked() []string { return append([]string(nil), g.marked...) }

// RootMark says how the rootfs is marked: "filesystem" (its own overlayfs)
// or "mount" (the container's own root mount, for a rootfs that is not a
// file system of its own, such as containerd's native snapshotter).
func (g *Guard) RootMark() string {
	if g.rootMnt != 0 {
		return "mount"
	}
	return "filesystem"
}

// SetDecide replaces the decision function (a profile reload) and drops
// the cache.
func (g *Guard) SetDecide(d func(Event) Verdict) {
	if d == nil {
		return
	}
	g.decide.Store(&d)
	g.cache.invalidate()
}

// InvalidateCache drops every cached decision.
func (g *Guard) InvalidateCache() { g.cache.invalidate() }

// Stats returns the counters so far.
func (g *Guard) Stats() Stats {
	s := &g.stats
	return Stats{
		Events: s.events.Load(), Host: s.host.Load(), Cached: s.cached.Load(), Decided: s.decided.Load(),
		Allowed: s.allowed.Load(), Denied: s.denied.Load(),
		Timeouts: s.timeouts.Load(), Overflows: s.overflows.Load(), Errors: s.errors.Load(),
		Waited: time.Duration(s.waited.Load()),
	}
}

// Done is closed when the guard has stopped: after Close, or after an
// error that made it give up (see Err). The kernel allows everything once
// the guard has stopped.
func (g *Guard) Done() <-chan struct{} { return g.done }

// Err returns why the guard stopped on its own, nil otherwise.
func (g *Guard) Err() error {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	return g.err
}

// Close closes the fanotify group, which makes the kernel allow every
// event not answered yet, and returns when the guard's goroutines have
// ended: at most about Timeout if a decision is in progress. A Decide call
// that already overran its Timeout is abandoned, not waited for.
func (g *Guard) Close() error {
	g.shutdown(nil)
	<-g.done
	return nil
}

// shutdown closes the group once; err says why when the guard gives up.
func (g *Guard) shutdown(err error) {
	g.closeOnce.Do(func() {
		if err != nil {
			g.errMu.Lock()
			g.err = err
			g.errMu.Unlock()
			g.log.Error("fanotify guard stopped; the kernel allows everything now", logError, err)
		}
		close(g.closing)
		if cerr := g.f.Close(); cerr != nil {
			g.log.Warn("closing fanotify group", logError, cerr)
		}
	})
}

func (g *Guard) closed() bool {
	select {
	case <-g.closing:
		return true
	default:
		return false
	}
}

// read reads events and answers what it can at once.
func (g *Guard) read() {
	defer g.wg.Done()
	defer close(g.queue)
	var lastWarn time.Time
	readGroup(g.f, func(events []rawEvent, perr error) bool {
		for _, e := range events {
			g.handle(e)
		}
		if perr != nil {
			// Events after a malformed one cannot be answered: give the
			// group up, which allows them.
			g.shutdown(fmt.Errorf("container %s (pid %d): %w", g.cfg.ID, g.cfg.Pid, perr))
			return false
		}
		return true
	}, func(err error) {
		// The kernel denies a permission event it cannot hand over
		// (EMFILE: no descriptor for it).
		g.stats.errors.Add(1)
		if time.Since(lastWarn) > time.Second {
			lastWarn = time.Now()
			g.log.Warn("reading fanotify events; the kernel denied the event", logError, err)
		}
		time.Sleep(time.Millisecond)
	})
}

// handle inspects one event, answers it from the cache or queues it.
func (g *Guard) handle(e rawEvent) {
	g.stats.events.Add(1)
	if e.fd < 0 {
		// FAN_NOFD: a queue overflow notice; not expected with an
		// unlimited queue.
		g.log.Warn("fanotify queue overflow reported", "mask", e.mask)
		return
	}
	p := &pending{fd: e.fd, start: time.Now(), ev: Event{TID: int(e.pid), Flags: -1, Syscall: -1}}
	switch {
	case e.mask&unix.FAN_OPEN_EXEC_PERM != 0:
		p.ev.Kind = KindExec
	case e.mask&unix.FAN_OPEN_PERM != 0:
		p.ev.Kind = KindOpen
	default:
		g.answer(p, Verdict{Allow: true}, sourceQuiet, nil)
		return
	}
	tid := p.ev.TID
	if tid <= 0 {
		g.fail(p, SourceError, fmt.Errorf("the requester is outside the guard's pid namespace"))
		return
	}
	mnt, err := os.Readlink(g.fs.Path(strconv.Itoa(tid), "ns", "mnt"))
	if err != nil {
		if _, serr := os.Stat(g.fs.Path(strconv.Itoa(tid))); gone(err) && gone(serr) {
			// Killed while it waited: nothing left to protect.
			g.answer(p, Verdict{Allow: false}, sourceQuiet, nil)
			return
		}
		g.fail(p, SourceError, fmt.Errorf("reading mount namespace of thread %d: %w", tid, err))
		return
	}
	if mnt == g.ownMnt {
		g.stats.host.Add(1)
		g.answer(p, Verdict{Allow: true}, sourceQuiet, nil)
		return
	}

	target, err := os.Readlink(g.fs.Path("self", "fd", strconv.Itoa(int(p.fd))))
	if err != nil {
		g.fail(p, SourceError, fmt.Errorf("reading path of event fd %d of thread %d: %w", p.fd, tid, err))
		return
	}
	p.ev.Path, p.ev.Deleted = splitDeleted(target)
	st, err := fstat(int(p.fd))
	if err != nil {
		g.fail(p, SourceError, fmt.Errorf("stat of %s for thread %d: %w", p.ev.Path, tid, err))
		return
	}
	p.ev.Dev, p.ev.Ino = st.id.dev, st.id.ino

	if p.ev.Kind == KindOpen {
		if c, ok := g.interp.pendingCheck(tid); ok {
			g.loaderRuns(p, c)
		}
	}

	p.key = cacheKey{dev: st.id.dev, ino: st.id.ino, path: p.ev.Path, deleted: p.ev.Deleted, kind: p.ev.Kind}
	if p.ev.Kind == KindExec {
		p.ev.Role, p.interp = g.classifyExec(p, st)
		p.key.role = p.ev.Role
	}
	// A verdict that does not depend on the access mode needs no look at
	// the requester's syscall.
	v, hit, gen := g.cache.get(p.key)
	p.gen = gen
	if p.loader != nil {
		hit = false // the loader's exec is decided first
	}
	if !hit && p.ev.Kind == KindOpen {
		g.readWrite(p)
		p.key.write = writeOf(p.ev.Write)
		if p.loader == nil {
			v, hit, _ = g.cache.get(p.key)
		}
	}
	if hit {
		if v.Violation != nil && p.ev.Kind == KindOpen && p.key.write == writeAny {
			g.readWrite(p) // for the report
		}
		g.answer(p, v, SourceCache, nil)
		return
	}
	g.enqueue(p)
}

// enqueue hands an event to the decision goroutine.
func (g *Guard) enqueue(p *pending) {
	select {
	case g.queue <- p:
	default:
		g.fail(p, SourceOverflow, fmt.Errorf("%w (%d events)", ErrQueueFull, cap(g.queue)))
	}
}

// loaderRuns does the re-check of an ELF interpreter let through as one:
// at the process's first open after the exec (not an open of the exec
// itself), its executable must be the binary, not the interpreter. If the
// interpreter turns out to be the program (its exec was taken for the
// interpreter of an allowed binary whose exec then failed, E2BIG say), its
// exec is decided as a binary's before this open (p.loader).
func (g *Guard) loaderRuns(p *pending, c loaderCheck) {
	g.readWrite(p)
	if p.ev.Syscall == unix.SYS_EXECVE || p.ev.Syscall == unix.SYS_EXECVEAT {
		return // still inside the exec
	}
	g.interp.doneCheck(p.ev.TID)
	var st unix.Stat_t
	if err := unix.Stat(g.fs.Path(strconv.Itoa(p.ev.TID), "exe"), &st); err != nil || (fileID{dev: st.Dev, ino: st.Ino}) != c.id {
		return
	}
	p.loader = &Event{Kind: KindExec, Role: ExecBinary, Path: c.path, TID: p.ev.TID, Flags: -1, Syscall: p.ev.Syscall, Dev: c.id.dev, Ino: c.id.ino}
}

// readWrite finds out whether an open is for writing, once.
func (g *Guard) readWrite(p *pending) {
	if p.sysRead {
		return
	}
	p.sysRead = true
	if sc, err := g.syscall(p.ev.TID); err == nil {
		p.ev.Syscall = int(sc.nr)
		if flags, ok := openFlags(sc); ok {
			p.ev.Flags = flags
		}
	}
	p.ev.Write = writeFlags(p.ev.Flags)
}

// decided is the outcome of one Decide call.
type decided struct {
	v     Verdict
	panic any
}

// worker is the state of the decision goroutine.
type worker struct {
	g *Guard
	// stuck is a Decide call that overran its time and has not returned.
	stuck chan decided
}

// work calls Decide for queued events, one at a time, each bounded by what
// is left of its Timeout.
func (g *Guard) work() {
	defer g.wg.Done()
	w := &worker{g: g}
	for p := range g.queue {
		if p.answered.Load() {
			continue
		}
		if p.loader != nil {
			v, ok := w.decide(p, *p.loader)
			if !ok {
				continue
			}
			if !v.Allow {
				p.ev, p.noCache = *p.loader, true
				g.answer(p, v, SourceDecide, nil)
				continue
			}
			if v.Violation != nil {
				g.reportOnly(p, *p.loader, v)
			}
		}
		v, ok := w.decide(p, p.ev)
		if !ok {
			continue
		}
		key := p.key
		if v.IgnoresWrite {
			key.write = writeAny
		}
		if !p.noCache {
			g.cache.put(key, v, p.gen)
		}
		g.answer(p, v, SourceDecide, nil)
	}
}

// decide calls Decide for ev, on behalf of p, within what is left of p's
// time. When it cannot, it answers p by FailOpen and reports false.
func (w *worker) decide(p *pending, ev Event) (Verdict, bool) {
	g := w.g
	if w.stuck != nil {
		select {
		case <-w.stuck:
			w.stuck = nil
		default:
			g.fail(p, SourceTimeout, fmt.Errorf("%w: an earlier decision is still running", ErrTimeout))
			return Verdict{}, false
		}
	}
	if g.closed() {
		g.fail(p, SourceError, ErrClosed)
		return Verdict{}, false
	}
	left := g.cfg.Timeout - time.Since(p.start)
	if left <= 0 {
		g.fail(p, SourceTimeout, fmt.Errorf("%w: waited %s in the queue", ErrTimeout, g.cfg.Timeout))
		return Verdict{}, false
	}
	ch := make(chan decided, 1)
	decide := *g.decide.Load()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- decided{panic: r}
			}
		}()
		ch <- decided{v: decide(ev)}
	}()
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case d := <-ch:
		if d.panic != nil {
			g.fail(p, SourceError, fmt.Errorf("deciding %s %s of thread %d: panic: %v", ev.Kind, ev.Path, ev.TID, d.panic))
			return Verdict{}, false
		}
		return d.v, true
	case <-t.C:
		w.stuck = ch
		g.fail(p, SourceTimeout, fmt.Errorf("%w: Decide took more than %s", ErrTimeout, g.cfg.Timeout))
	case <-g.closing:
		w.stuck = ch
		g.fail(p, SourceError, ErrClosed)
	}
	return Verdict{}, false
}

// reportOnly reports an allowed verdict with a violation about another
// event than the one p answers (a loader re-check in monitor mode).
func (g *Guard) reportOnly(p *pending, ev Event, v Verdict) {
	if g.cfg.Report == nil {
		return
	}
	ev.PID = g.tgid(ev.TID)
	g.cfg.Report(Report{Event: ev, Verdict: v, Source: SourceDecide, Latency: time.Since(p.start)})
}

// fail answers by FailOpen.
func (g *Guard) fail(p *pending, src Source, err error) {
	g.answer(p, Verdict{Allow: g.cfg.FailOpen}, src, err)
}

// answer writes the verdict of an event once, closes its descriptor, and
// reports it.
func (g *Guard) answer(p *pending, v Verdict, src Source, cause error) {
	if !p.answered.CompareAndSwap(false, true) {
		return
	}
	failed := src == SourceTimeout || src == SourceOverflow || src == SourceError
	report := src != sourceQuiet && g.cfg.Report != nil && (v.Violation != nil || failed)
	if report || (v.Allow && p.ev.Role == ExecInterpreter && p.ev.Kind == KindExec) {
		// Before the answer: a denied process may exit at once.
		p.ev.PID = g.tgid(p.ev.TID)
		if report {
			if e, err := g.fs.ExeOf(p.ev.TID); err == nil {
				p.ev.Exe = e.Path
			}
		}
	}
	if v.Allow && p.ev.Kind == KindExec {
		// Before the answer: the kernel opens the interpreter right after.
		if p.interp != nil {
			g.interp.expect(p.ev.TID, *p.interp)
		}
		if p.ev.Role == ExecInterpreter && p.ev.PID > 0 {
			g.interp.checkLater(p.ev.PID, loaderCheck{id: fileID{dev: p.ev.Dev, ino: p.ev.Ino}, path: p.ev.Path})
		}
	}
	_, werr := g.f.Write(response(p.fd, v.Allow))
	unix.Close(int(p.fd))
	latency := time.Since(p.start)
	g.stats.waited.Add(uint64(latency))
	if werr != nil {
		if errors.Is(werr, os.ErrClosed) {
			// The group is gone: the kernel allowed it.
			v.Allow = true
			if cause == nil {
				cause = ErrClosed
			}
		} else if !errors.Is(werr, syscall.ENOENT) { // ENOENT: the requester died waiting
			g.log.Warn("writing fanotify answer", logTID, p.ev.TID, logPath, p.ev.Path, logError, werr)
		}
	}
	switch src {
	case SourceCache:
		g.stats.cached.Add(1)
	case SourceDecide:
		g.stats.decided.Add(1)
	case SourceTimeout:
		g.stats.timeouts.Add(1)
	case SourceOverflow:
		g.stats.overflows.Add(1)
	case SourceError:
		if !errors.Is(cause, ErrClosed) {
			g.stats.errors.Add(1)
		}
	}
	if v.Allow {
		g.stats.allowed.Add(1)
	} else {
		g.stats.denied.Add(1)
	}
	if src == sourceQuiet {
		return
	}
	if failed && !errors.Is(cause, ErrClosed) {
		g.log.Warn("fanotify event answered without a decision", logSource, src.String(), logKind, p.ev.Kind.String(),
			logTID, p.ev.TID, logPath, p.ev.Path, "allow", v.Allow, logError, cause)
	}
	if report {
		g.cfg.Report(Report{Event: p.ev, Verdict: v, Source: src, Latency: latency, Err: cause})
	}
}

// gone reports errors that mean the thread no longer exists.
func gone(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// readSmall reads a small /proc file with one read.
func readSmall(name string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// syscallWait bounds the wait for a requester to go to sleep.
const syscallWait = 5 * time.Millisecond

// syscall reads the syscall a blocked thread is in. The kernel queues the
// event before the requester goes to sleep waiting for the answer, so the
// guard can read the event while the thread still runs (/proc/<tid>/syscall
// then says "running", 2 of 300 `cat | wc` pipelines measured): it
// retries until the thread sleeps.
func (g *Guard) syscall(tid int) (sysCall, error) {
	name := g.fs.Path(strconv.Itoa(tid), "syscall")
	var buf [256]byte
	var deadline time.Time
	for i := 0; ; i++ {
		b, err := readSmall(name, buf[:])
		if err != nil {
			return sysCall{}, err
		}
		sc, err := parseSyscall(b)
		if !errors.Is(err, errRunning) {
			return sc, err
		}
		switch {
		case i == 0:
			deadline = time.Now().Add(syscallWait)
		case time.Now().After(deadline):
			return sysCall{}, err
		}
		if i < 10 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// tgid returns the process a thread belongs to, 0 when unknown.
func (g *Guard) tgid(tid int) int {
	var buf [4096]byte
	b, err := readSmall(g.fs.Path(strconv.Itoa(tid), "status"), buf[:])
	if err != nil {
		return 0
	}
	n, err := parseTgid(b)
	if err != nil {
		return 0
	}
	return n
}

// classifyExec tells a binary from a script or an expected ELF
// interpreter, and for a dynamically linked binary finds its interpreter.
func (g *Guard) classifyExec(p *pending, st fileStat) (ExecRole, *fileID) {
	tid := p.ev.TID
	if want, ok := g.interp.take(tid); ok && want == st.id {
		return ExecInterpreter, nil
	}
	script, interp, err := parseELFInterp(fdReaderAt(p.fd))
	if err != nil {
		// Checked as a binary; its interpreter, if any, is checked as one too.
		g.log.Debug("reading executable header", logTID, tid, logPath, p.ev.Path, logError, err)
		return ExecBinary, nil
	}
	if script {
		return ExecScript, nil
	}
	if interp == "" || !path.IsAbs(interp) {
		return ExecBinary, nil
	}
	id, err := g.resolveInRoot(tid, interp)
	if err != nil {
		g.log.Debug("resolving ELF interpreter", logTID, tid, logPath, interp, logError, err)
		return ExecBinary, nil
	}
	return ExecBinary, &id
}

// resolveInRoot finds a file by its path in a thread's root directory,
// the way the kernel's open_exec does for an absolute PT_INTERP.
func (g *Guard) resolveInRoot(tid int, name string) (fileID, error) {
	root, err := unix.Open(g.fs.Path(strconv.Itoa(tid), "root"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fileID{}, err
	}
	defer unix.Close(root)
	fd, err := openInRoot(root, name, 0)
	if err != nil {
		return fileID{}, err
	}
	defer unix.Close(fd)
	st, err := fstat(fd)
	if err != nil {
		return fileID{}, err
	}
	return st.id, nil
}

// fdReaderAt reads an event's descriptor (opened by the kernel with
// FMODE_NONOTIFY: reading it raises no event).
type fdReaderAt int32

func (f fdReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Pread(int(f), b[n:], off+int64(n))
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}
