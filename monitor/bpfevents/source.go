// Package bpfevents receives process events (exec, fork, exit, uid and gid
// changes) of watched containers from BPF programs on kernel tracepoints,
// and records which capabilities each watched container exercises.
//
// The filter runs in the kernel: a BPF hash map holds the cgroup ids
// (unified v2 hierarchy inodes) of watched containers, updated with Watch
// and Forget. A process in a sub-cgroup of a watched one (a container that
// makes its own: systemd inside, Docker in Docker) counts as the nearest
// watched ancestor's, and its events carry that cgroup's id. A process
// outside them costs one map lookup per level of its cgroup's depth and
// nothing in user space. Events reach user space through a ring buffer; when it is
// full the kernel counts the loss and Events delivers a KindLost event so
// the caller rescans /proc.
//
// The tracepoint programs read their context as declared in the tracepoint
// format files and need no BTF. When the kernel has BTF
// (/sys/kernel/btf/vmlinux) the exec and id-change programs also read the
// start time, effective ids and the executable's device and inode from the
// task through CO-RE; Event.Full says which.
package bpfevents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// DefaultChannelSize is the capacity of the Events channel.
const DefaultChannelSize = 4096

// lossCheckInterval bounds how long a kernel-side loss stays unreported.
const lossCheckInterval = 100 * time.Millisecond

// Option changes how Open sets the source up.
type Option func(*options)

type options struct {
	chanSize int
	noCORE   bool
	noCaps   bool
	ringSize uint32
}

// WithChannelSize sets the capacity of the Events channel.
func WithChannelSize(n int) Option { return func(o *options) { o.chanSize = n } }

// WithoutCORE loads the programs that read only tracepoint fields, as on a
// kernel without BTF (tests of that path).
func WithoutCORE() Option { return func(o *options) { o.noCORE = true } }

// WithRingBuffer sets the ring buffer's size in bytes (a power of two, at
// least a page; default 4 MiB, about 11,000 events).
func WithRingBuffer(bytes uint32) Option { return func(o *options) { o.ringSize = bytes } }

// WithoutCaps leaves the capability recorder (cap_capable) detached.
func WithoutCaps() Option { return func(o *options) { o.noCaps = true } }

// Source is a loaded and attached set of programs. Close detaches them.
type Source struct {
	coll    *ebpf.Collection
	links   []link.Link
	rd      *ringbuf.Reader
	watched *ebpf.Map
	lostMap *ebpf.Map
	full    bool
	caps    bool
	// capsOff says why the capability recorder is not attached.
	capsOff string

	events chan Event
	done   chan struct{}
	lost   atomic.Uint64

	closeOnce sync.Once
	wg        sync.WaitGroup
	mu        sync.Mutex
	err       error

	// mapMu orders the callers' map operations (Watch, Forget, UsedCaps)
	// before the reader frees the maps; released is set under it.
	mapMu    sync.RWMutex
	released bool
}

// errReleased is what the map operations return once the source is closed.
var errReleased = errors.New("bpf process events closed")

// Open loads the programs, attaches them to their tracepoints and starts
// reading. It needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); a kernel
// that refuses (lockdown, no BPF) is an error the caller falls back from.
// When ctx is done the source closes as if by Close.
func Open(ctx context.Context, opts ...Option) (*Source, error) {
	o := options{chanSize: DefaultChannelSize}
	for _, opt := range opts {
		opt(&o)
	}
	// Events carry PIDs of the initial PID namespace, which a reader of
	// /proc in another one cannot use.
	if err := initialPIDNamespace(); err != nil {
		return nil, fmt.Errorf("loading bpf process events: %w", err)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("loading bpf process events: %w", err)
	}
	spec, err := loadEvents()
	if err != nil {
		return nil, fmt.Errorf("loading bpf process events: %w", err)
	}
	full := !o.noCORE && hasKernelBTF()
	drop := "_core"
	if full {
		drop = "_plain"
	}
	if o.ringSize != 0 {
		spec.Maps["events"].MaxEntries = o.ringSize
	}
	capsOff := ""
	if o.noCaps {
		capsOff = "switched off"
	} else if err := setProbeRanges(spec); err != nil {
		// Without them every mmap of a root process would count as a
		// use of CAP_SYS_ADMIN: no recorder rather than a wrong one.
		capsOff = err.Error()
	}
	for name := range spec.Programs {
		if strings.HasSuffix(name, drop) || (capsOff != "" && strings.HasPrefix(name, "cap_capable")) {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, fmt.Errorf("loading bpf process events: %w", err)
	}
	s := &Source{coll: coll, watched: coll.Maps["watched_cgroups"], lostMap: coll.Maps["lost"], full: full, caps: capsOff == "", capsOff: capsOff,
		events: make(chan Event, o.chanSize), done: make(chan struct{})}
	if err := s.attach(spec); err != nil {
		s.release()
		return nil, err
	}
	if s.rd, err = ringbuf.NewReader(coll.Maps["events"]); err != nil {
		s.release()
		return nil, fmt.Errorf("reading bpf ring buffer: %w", err)
	}
	s.wg.Add(2)
	go s.read()
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			s.stop()
		case <-s.done:
		}
	}()
	return s, nil
}

// attach opens each program's tracepoint and links the program to it.
func (s *Source) attach(spec *ebpf.CollectionSpec) error {
	tps := map[string]string{} // program → group/name
	var names []string
	for name, ps := range spec.Programs {
		tp, ok := strings.CutPrefix(ps.SectionName, "tracepoint/")
		if !ok {
			return fmt.Errorf("attaching bpf program %s: section %q is not a tracepoint", name, ps.SectionName)
		}
		tps[name] = tp
		names = append(names, tp)
	}
	ids, err := tracepointIDs(names)
	if err != nil {
		return fmt.Errorf("attaching bpf process events: %w", err)
	}
	for name, tp := range tps {
		fd, err := openTracepoint(ids[tp])
		if err != nil {
			return fmt.Errorf("attaching bpf program %s to %s: %w", name, tp, err)
		}
		l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: s.coll.Programs[name], Attach: ebpf.AttachPerfEvent})
		// The link holds its own reference to the perf event.
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("attaching bpf program %s to %s: %w", name, tp, err)
		}
		s.links = append(s.links, l)
	}
	return nil
}

func hasKernelBTF() bool {
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	return err == nil
}

// setProbeRanges gives the capability recorder the kernel text of the
// functions whose capability checks are probes (see probeFuncs).
func setProbeRanges(spec *ebpf.CollectionSpec) error {
	rs, err := probeRanges()
	if err != nil {
		return fmt.Errorf("capability recorder: %w", err)
	}
	var lo, hi [2]uint64
	for i, r := range rs {
		lo[i], hi[i] = r.Lo, r.Hi
	}
	for name, v := range map[string]any{"probe_lo": lo, "probe_hi": hi} {
		sv, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("capability recorder: no variable %s in the bpf object", name)
		}
		if err := sv.Set(v); err != nil {
			return fmt.Errorf("capability recorder: setting %s: %w", name, err)
		}
	}
	return nil
}

// Caps reports whether the capability recorder is attached, and if not,
// why.
func (s *Source) Caps() (on bool, why string) { return s.caps, s.capsOff }

// Full reports whether events carry what only the task knows (start time,
// effective ids, the executable's device and inode): the kernel has BTF.
func (s *Source) Full() bool { return s.full }

// Events returns the channel of events. It is closed after Close or when
// reading fails (see Err).
func (s *Source) Events() <-chan Event { return s.events }

// Lost returns how many events the kernel dropped so far.
func (s *Source) Lost() uint64 { return s.lost.Load() }

// Watch adds the cgroup to the in-kernel filter: its processes' events are
// reported from now on. Watching a watched cgroup keeps what it recorded.
func (s *Source) Watch(cgroupID uint64) error {
	s.mapMu.RLock()
	defer s.mapMu.RUnlock()
	if s.released {
		return fmt.Errorf("watching cgroup %d: %w", cgroupID, errReleased)
	}
	err := s.watched.Update(cgroupID, eventsWatched{}, ebpf.UpdateNoExist)
	if err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
		return fmt.Errorf("watching cgroup %d: %w", cgroupID, err)
	}
	return nil
}

// Forget removes the cgroup from the filter and drops what it recorded.
func (s *Source) Forget(cgroupID uint64) error {
	s.mapMu.RLock()
	defer s.mapMu.RUnlock()
	if s.released {
		return nil // the filter is gone with everything it recorded
	}
	err := s.watched.Delete(cgroupID)
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("forgetting cgroup %d: %w", cgroupID, err)
	}
	return nil
}

// Caps is what the capability recorder saw for one cgroup: bit n stands
// for capability n (CAP_CHOWN = 0, …).
type Caps struct {
	// Used are the capabilities its processes were checked for and had.
	Used uint64
	// Denied are those they were checked for and lacked.
	Denied uint64
}

// UsedCaps returns the capabilities the watched cgroup's processes were
// checked for since Watch. ok is false when the cgroup is not watched or
// the recorder is not attached.
func (s *Source) UsedCaps(cgroupID uint64) (c Caps, ok bool) {
	if !s.caps {
		return Caps{}, false
	}
	s.mapMu.RLock()
	defer s.mapMu.RUnlock()
	if s.released {
		return Caps{}, false
	}
	var w eventsWatched
	if err := s.watched.Lookup(cgroupID, &w); err != nil {
		return Caps{}, false
	}
	return Caps{Used: w.CapsUsed, Denied: w.CapsDenied}, true
}

// Err returns why Events was closed early, if it was.
func (s *Source) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close detaches every program, frees the maps and closes Events.
func (s *Source) Close() error {
	s.stop()
	s.wg.Wait()
	return nil
}

// stop makes the reader return; it does not wait.
func (s *Source) stop() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.rd.Close()
	})
}

func (s *Source) release() {
	s.mapMu.Lock()
	defer s.mapMu.Unlock()
	s.released = true
	for _, l := range s.links {
		l.Close()
	}
	s.links = nil
	s.coll.Close()
}

func (s *Source) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// read delivers ring-buffer records as events, and a KindLost event when
// the kernel's loss counter grew.
func (s *Source) read() {
	defer s.wg.Done()
	defer close(s.events)
	defer s.release()
	var rec ringbuf.Record
	var seenLost uint64
	nextCheck := time.Now().Add(lossCheckInterval)
	for {
		s.rd.SetDeadline(nextCheck)
		err := s.rd.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, ringbuf.ErrClosed):
			return
		case err != nil:
			s.fail(fmt.Errorf("reading bpf ring buffer: %w", err))
			return
		default:
			ev, perr := parseRecord(rec.RawSample)
			if perr != nil {
				s.fail(perr)
				continue
			}
			if !s.send(ev) {
				return
			}
		}
		if now := time.Now(); !now.Before(nextCheck) {
			nextCheck = now.Add(lossCheckInterval)
			if n := s.kernelLost(); n > seenLost {
				s.lost.Store(n)
				if !s.send(Event{Kind: KindLost, Timestamp: monotonic(), Lost: n - seenLost}) {
					return
				}
				seenLost = n
			}
		}
	}
}

func (s *Source) send(ev Event) bool {
	select {
	case s.events <- ev:
		return true
	case <-s.done:
		return false
	}
}

// kernelLost sums the per-CPU loss counters.
func (s *Source) kernelLost() uint64 {
	var per []uint64
	if err := s.lostMap.Lookup(uint32(0), &per); err != nil {
		return 0
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n
}

func monotonic() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// procPIDInitIno is PROC_PID_INIT_INO: the inode of the initial PID
// namespace.
const procPIDInitIno = 0xEFFFFFFC

func initialPIDNamespace() error {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return fmt.Errorf("reading the pid namespace: %w", err)
	}
	if st.Ino != procPIDInitIno {
		return errors.New("not in the initial pid namespace (events would name pids this /proc does not show)")
	}
	return nil
}

// cgroup2SuperMagic is CGROUP2_SUPER_MAGIC from linux/magic.h.
const cgroup2SuperMagic = 0x63677270

// CgroupID returns the id BPF knows a cgroup by (bpf_get_current_cgroup_id):
// the inode of its directory in the unified (v2) hierarchy. dir must be in
// a cgroup2 mount (on a hybrid host, under /sys/fs/cgroup/unified).
func CgroupID(dir string) (uint64, error) {
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return 0, fmt.Errorf("reading cgroup id of %s: %w", dir, err)
	}
	if sfs.Type != cgroup2SuperMagic {
		return 0, fmt.Errorf("reading cgroup id of %s: not in a cgroup v2 hierarchy", dir)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, fmt.Errorf("reading cgroup id of %s: %w", dir, err)
	}
	return st.Ino, nil
}
