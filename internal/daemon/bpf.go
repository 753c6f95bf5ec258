package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/monitor/bpfevents"
	"github.com/confinehq/confine/monitor/kill"
	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/profiles"
)

// Process event sources, as status and the metric name them.
const (
	eventSourceBPF           = "bpf"
	eventSourceProcConnector = "proc_connector"
	eventSourceNone          = "none" // rescans only
)

// bpfState is the monitor's BPF process-event source: the in-kernel filter
// holds the cgroup of every tracked container, so only their events reach
// confined, already attributed.
type bpfState struct {
	src *bpfevents.Source
	// source is the event source in use (eventSource*).
	source string

	cgMu sync.Mutex
	// byCgroup maps a watched cgroup id to its container; cgroupOf the
	// other way.
	byCgroup map[uint64]*watchedCgroup
	cgroupOf map[*container]uint64
	// fromStart holds the containers in the filter since their
	// createRuntime hook, before user code ran: the capability recorder
	// saw all of their use.
	fromStart map[*container]bool

	// Exec events judged from the event alone and from /proc
	// (confine_exec_judged_total{by}).
	judgedEvent, judgedProc prometheus.Counter
}

// startEvents starts the process-event source the configuration asks for:
// BPF first (unless proc_connector is forced), the proc connector when BPF
// cannot be loaded (no CAP_BPF/CAP_PERFMON, lockdown, an old kernel) and
// process_events is auto. It reports whether it started one; an error
// means process_events = "bpf" could not be honoured.
func (m *monitor) startEvents(ctx context.Context) (started bool, err error) {
	mode := m.cfg.ProcessEvents
	if mode == config.ProcessEventsProcConnector {
		return false, nil
	}
	var opts []bpfevents.Option
	if !m.cfg.CapabilityRecorder { // benchmarks: the recorder's cost
		opts = append(opts, bpfevents.WithoutCaps())
	}
	src, err := bpfevents.Open(ctx, opts...)
	if err != nil {
		if mode == config.ProcessEventsBPF {
			return false, fmt.Errorf("process_events = %q: %w", mode, err)
		}
		m.log.Warn("bpf process events unavailable; using the proc connector", "error", err)
		return false, nil
	}
	m.bpf.src = src
	m.bpf.byCgroup, m.bpf.cgroupOf, m.bpf.fromStart = map[uint64]*watchedCgroup{}, map[*container]uint64{}, map[*container]bool{}
	if on, why := src.Caps(); !on {
		m.log.Warn("capability recorder not attached: learned profiles keep the capabilities workloads hold", "reason", why)
	}
	judged := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "confine_exec_judged_total", Help: "Exec events (bpf) by what judged them: the event alone (its file's inode was allowed, no system call) or /proc (the slow path)."}, []string{"by"})
	m.metrics.reg.MustRegister(judged)
	m.bpf.judgedEvent, m.bpf.judgedProc = judged.WithLabelValues(judgedByEvent), judged.WithLabelValues(judgedByProc)
	m.debug = m.log.Enabled(ctx, slog.LevelDebug)
	m.setSource(eventSourceBPF)
	m.log.Info("process events from bpf tracepoints", "full", src.Full())
	m.done = make(chan struct{})
	go m.bpfLoop()
	return true, nil
}

// setSource records the source in use for status and the metric.
func (m *monitor) setSource(s string) {
	m.mu.Lock()
	m.bpf.source = s
	m.mu.Unlock()
	for _, v := range []string{eventSourceBPF, eventSourceProcConnector, eventSourceNone} {
		val := 0.0
		if v == s {
			val = 1
		}
		m.metrics.eventSource.WithLabelValues(v).Set(val)
	}
}

// eventSource returns the process-event source in use.
func (m *monitor) eventSource() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bpf.source
}

func (m *monitor) stopBPF() {
	if m.bpf.src != nil {
		m.bpf.src.Close()
		<-m.done
	}
}

// bpfLoop handles events as the proc connector's loop does, with the
// container known from the event's cgroup instead of read from /proc.
func (m *monitor) bpfLoop() {
	defer close(m.done)
	for ev := range m.bpf.src.Events() {
		if ev.Kind == bpfevents.KindLost {
			m.metrics.eventsLost.Add(float64(ev.Lost))
			m.lost.lost(lostBPF, "process events (bpf ring buffer full)", ev.Lost)
			continue
		}
		m.metrics.events.Inc()
		m.bpf.cgMu.Lock()
		w := m.bpf.byCgroup[ev.CgroupID]
		m.bpf.cgMu.Unlock()
		if w == nil {
			m.log.Debug("bpf event of a cgroup no longer watched", "event", ev.String())
			continue // forgotten since
		}
		c := w.c
		switch ev.Kind {
		case bpfevents.KindFork:
			m.mu.Lock()
			m.lineage[ev.Child] = c
			m.mu.Unlock()
		case bpfevents.KindExec:
			m.mu.Lock()
			m.lineage[ev.TGID] = c
			m.mu.Unlock()
			if judgeFromEvent(w, ev) {
				m.bpf.judgedEvent.Inc()
				continue
			}
			m.bpf.judgedProc.Inc()
			if m.debug {
				m.log.Debug("bpf exec event judged from /proc", "pid", ev.TGID, "file", ev.Filename, "dev", ev.ExeDev, "ino", ev.ExeIno, "namespace", c.Namespace, "container", c.ID)
			}
			if judged, key := m.fastExec(ev.TGID, ev.Timestamp); judged != nil {
				m.evaluateKey(key, judged)
			} else {
				m.judgeExited(ev, c)
			}
			refreshExecSet(m.fs, w, ev.TGID)
		case bpfevents.KindUID, bpfevents.KindGID:
			m.evaluate(ev.TGID, c)
		case bpfevents.KindExit:
			m.mu.Lock()
			m.exited[ev.TGID] = exitedProc{c: c, at: m.now()}
			delete(m.lineage, ev.TGID)
			m.mu.Unlock()
		}
	}
	if err := m.bpf.src.Err(); err != nil {
		m.log.Error("bpf process events stopped; rescans only", "error", err)
		m.setSource(eventSourceNone)
	}
}

// watchCgroup adds a tracked container's cgroup to the in-kernel filter;
// fromStart says no user code ran in it yet (createRuntime hook).
// A container whose cgroup cannot be found in the unified hierarchy is
// still watched by the rescans, and says so.
func (m *monitor) watchCgroup(c *container, pid int, fromStart bool) {
	if m.bpf.src == nil {
		return
	}
	id, err := containerCgroupID(m.fs, c, pid)
	if err == nil {
		err = m.bpf.src.Watch(id)
	}
	if err != nil {
		m.log.Error("container not in the bpf event filter: rescans only", "namespace", c.Namespace, "container", c.ID, "error", err)
		m.recMu.Lock()
		c.Notes = append(c.Notes, "no bpf process events (rescans only): "+err.Error())
		m.recMu.Unlock()
		return
	}
	m.log.Debug("container in the bpf event filter", "namespace", c.Namespace, "container", c.ID, "cgroup_id", id)
	m.bpf.cgMu.Lock()
	if old, ok := m.bpf.cgroupOf[c]; ok && old != id {
		delete(m.bpf.byCgroup, old)
	}
	if w := m.bpf.byCgroup[id]; w == nil || w.c != c {
		m.bpf.byCgroup[id] = &watchedCgroup{c: c}
	}
	m.bpf.cgroupOf[c] = id
	if fromStart {
		m.bpf.fromStart[c] = true
	}
	m.bpf.cgMu.Unlock()
}

// forgetCgroup removes a container from the filter and returns the
// capabilities its processes exercised, and whether since its start.
func (m *monitor) forgetCgroup(c *container) (caps bpfevents.Caps, fromStart, ok bool) {
	if m.bpf.src == nil {
		return bpfevents.Caps{}, false, false
	}
	m.bpf.cgMu.Lock()
	id, ok := m.bpf.cgroupOf[c]
	fromStart = m.bpf.fromStart[c]
	delete(m.bpf.cgroupOf, c)
	delete(m.bpf.fromStart, c)
	if w := m.bpf.byCgroup[id]; ok && w != nil && w.c == c {
		delete(m.bpf.byCgroup, id)
	} else {
		ok = false
	}
	m.bpf.cgMu.Unlock()
	if !ok {
		return bpfevents.Caps{}, false, false
	}
	caps, have := m.bpf.src.UsedCaps(id)
	if err := m.bpf.src.Forget(id); err != nil {
		m.log.Warn("removing a container from the bpf event filter", "namespace", c.Namespace, "container", c.ID, "error", err)
	}
	return caps, fromStart, have
}

// usedCaps returns the capabilities a tracked container's processes
// exercised so far (from the cap_capable recorder), and whether the
// recorder watched it from its start.
func (m *monitor) usedCaps(c *container) (caps bpfevents.Caps, fromStart, ok bool) {
	if m.bpf.src == nil {
		return bpfevents.Caps{}, false, false
	}
	m.bpf.cgMu.Lock()
	id, ok := m.bpf.cgroupOf[c]
	fromStart = m.bpf.fromStart[c]
	m.bpf.cgMu.Unlock()
	if !ok {
		return bpfevents.Caps{}, false, false
	}
	caps, ok = m.bpf.src.UsedCaps(id)
	return caps, fromStart, ok
}

// capsRecorded reports whether the capability recorder watches c since
// before its user code ran: its use, not what it holds, is learned.
func (m *monitor) capsRecorded(c *container) bool {
	_, fromStart, ok := m.usedCaps(c)
	return ok && fromStart
}

// capsUnrecorded says why a container's capability use is not (fully)
// recorded, "" when it is.
func (m *monitor) capsUnrecorded(c *container) string {
	if m.bpf.src == nil {
		return "no capability recorder: process events are not from bpf (" + m.eventSource() + ")"
	}
	if on, why := m.bpf.src.Caps(); !on {
		return "no capability recorder: " + why
	}
	_, fromStart, ok := m.usedCaps(c)
	switch {
	case !ok:
		return "not recorded: the container is not in the bpf filter"
	case !fromStart:
		return "recorded only since confined found the container running: earlier use unknown"
	}
	return ""
}

// containerCgroupID finds the id BPF knows the container's cgroup by: the
// unified-hierarchy cgroup of its init process, else the cgroup found by
// namespace and id.
func containerCgroupID(fs proc.FS, c *container, pid int) (uint64, error) {
	if pid > 0 {
		if p, err := fs.Proc(pid); err == nil {
			if lines, err := p.Cgroup(); err == nil {
				for _, l := range lines {
					if l.HierarchyID != 0 {
						continue
					}
					dir, err := kill.NewFinder(kill.DefaultCgroupRoot).Resolve(l.Path)
					if err != nil {
						break
					}
					return bpfevents.CgroupID(dir)
				}
			}
		}
	}
	dir, err := kill.Cgroup(c.Namespace, c.ID)
	if err != nil {
		return 0, err
	}
	return bpfevents.CgroupID(dir)
}

// judgeExited judges an exec whose process was gone (or whose PID had
// changed hands) before /proc could be read, from what the event itself
// says: the filename passed to execve, resolved in the container's root
// without following symlinks, is the executable when its device and inode
// are those the kernel reported. An exec that cannot be tied to a path so
// (a relative name, a symlink, a root that is gone) is counted, not judged.
func (m *monitor) judgeExited(ev bpfevents.Event, c *container) {
	if !ev.Full || ev.ExeIno == 0 {
		return
	}
	dec := c.decision()
	m.recMu.Lock()
	initPid := c.Pid
	m.recMu.Unlock()
	if dec == nil || c.killed.Load() || initPid <= 0 {
		return
	}
	ch, prof := dec.checker, dec.Profile
	if !filepath.IsAbs(ev.Filename) || !sameFileInRoot(m.fs, initPid, ev.Filename, ev.ExeDev, ev.ExeIno) {
		m.metrics.execUnjudged.Inc()
		m.log.Debug("exec of a process gone before it could be read, not judged", "pid", ev.TGID, "file", ev.Filename, "namespace", c.Namespace, "container", c.ID)
		return
	}
	key := proc.Key{PID: ev.TGID, StartTime: uint64(ev.StartTime / (10 * time.Millisecond))}
	snap := snapshot{PID: ev.TGID, StartTime: key.StartTime, Exe: ev.Filename, UID: ev.EUID, OtherUIDs: []uint32{ev.UID}}
	if prof.Mode == profiles.ModeLearn {
		m.learner.learn(c, &snap)
		return
	}
	m.report(c, finding.SourceBPF, &snap, ch.set.EvaluateExec(snap))
}

// sameFileInRoot reports whether name, resolved inside the root of process
// pid with no symlink followed, is the file dev/ino.
func sameFileInRoot(fs proc.FS, pid int, name string, dev, ino uint64) bool {
	root, err := fs.OpenRoot(pid)
	if err != nil {
		return false
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	return st.Dev == dev && st.Ino == ino
}
