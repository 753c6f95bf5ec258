package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/monitor/kill"
	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/monitor/proccon"
	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
)

// monitor follows the processes of watched containers: process events from
// the kernel (proc connector) for speed, a periodic /proc rescan as the
// backstop, both feeding the same evaluation.
type monitor struct {
	monitorDeps
	fs proc.FS
	// cgroups is the cgroup root containers are killed under.
	cgroups kill.Finder

	// useEvents: process events (BPF or the proc connector) are on; off
	// (process_events = "none") means rescan-only, which the benchmarks
	// compare against.
	useEvents bool
	conn      *proccon.Conn
	eventsErr string // why conn is nil (layers.go)
	cancel    context.CancelFunc
	done      chan struct{}
	bpf       bpfState
	// debug: the logger takes debug records (the event loops build them
	// only then).
	debug bool

	mu sync.Mutex
	// lineage maps a pid to the container its parent belonged to, learned
	// from fork events, for processes that exit before /proc is read.
	lineage map[int]*container
	// exited keeps the container of processes that exited in the last few
	// seconds: audit records and events about them can arrive after the
	// exit event.
	exited map[int]exitedProc
	// seen remembers the processes evaluated, by container: the kill's
	// fallback signals them by pidfd.
	seen map[proc.Key]*container
}

// monitorDeps is what the monitor needs of confined, each as small as it
// can be: it produces findings and learning input, and knows nothing of
// what happens to them.
type monitorDeps struct {
	cfg     *config.Config
	log     *slog.Logger
	metrics *metrics
	reg     *registry
	// recMu guards the records' mutable fields (Daemon.mu).
	recMu    *sync.Mutex
	lost     lossReporter
	findings findingSink
	learner  monitorLearner
	// now is the clock (exited processes' attribution expires).
	now func() time.Time
}

// monitorLearner takes what learn mode records.
type monitorLearner interface {
	learn(c *container, snap *snapshot)
	learnCaps(c *container, used uint64, fromStart bool)
}

func newMonitor(deps monitorDeps) (*monitor, error) {
	fs, err := proc.NewFS(deps.cfg.ProcRoot)
	if err != nil {
		return nil, err
	}
	if deps.now == nil {
		deps.now = time.Now
	}
	return &monitor{monitorDeps: deps, fs: fs, cgroups: kill.NewFinder(kill.DefaultCgroupRoot), useEvents: deps.cfg.ProcessEvents != config.ProcessEventsNone, lineage: map[int]*container{}, exited: map[int]exitedProc{}, seen: map[proc.Key]*container{}}, nil
}

func (m *monitor) start(ctx context.Context) error {
	m.setSource(eventSourceNone)
	if !m.useEvents {
		m.log.Warn("process events switched off: rescan only")
		m.eventsErr = "process events switched off (process_events = \"none\")"
		return nil
	}
	if ok, err := m.startEvents(ctx); ok || err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	conn, err := proccon.Listen(cctx)
	if err != nil {
		cancel()
		// Without the connector confined still works, slower.
		m.log.Error("process events unavailable; falling back to /proc rescans only", "error", err)
		m.eventsErr = "proc connector unavailable: " + err.Error()
		return nil
	}
	m.setSource(eventSourceProcConnector)
	m.conn, m.cancel, m.done = conn, cancel, make(chan struct{})
	go m.loop()
	return nil
}

func (m *monitor) stop() {
	m.stopBPF()
	if m.cancel != nil {
		m.cancel()
		m.conn.Close()
		<-m.done
	}
}

func (m *monitor) loop() {
	defer close(m.done)
	for ev := range m.conn.Events() {
		m.procEvent(ev)
	}
}

// procEvent follows one proc connector event: fork lineage, exec and
// uid/gid changes judged, exits remembered for late attribution, an
// overflow handed to the overflow policy (which rescans).
func (m *monitor) procEvent(ev proccon.Event) {
	switch ev.Kind {
	case proccon.KindOverflow:
		m.metrics.eventsLost.Inc()
		m.lost.lost(lostProcConnector, "process events (receive queue overflow)", 1)
	case proccon.KindFork:
		if !ev.Leader() {
			return
		}
		m.metrics.events.Inc()
		m.mu.Lock()
		if c := m.lineage[ev.ParentTGID]; c != nil {
			m.lineage[ev.TGID] = c
		}
		m.mu.Unlock()
		if c := m.containerOf(ev.TGID); c != nil {
			m.mu.Lock()
			m.lineage[ev.TGID] = c
			m.mu.Unlock()
		}
	case proccon.KindExec:
		if !ev.Leader() {
			return
		}
		m.metrics.events.Inc()
		// The full evaluation reuses the fast path's attribution and
		// the process identity it checked against the event.
		if c, key := m.fastExec(ev.TGID, ev.Timestamp); c != nil {
			m.evaluateKey(key, c)
		}
	case proccon.KindUID, proccon.KindGID:
		if !ev.Leader() {
			return
		}
		m.metrics.events.Inc()
		m.evaluate(ev.TGID, nil)
	case proccon.KindExit:
		if !ev.Leader() {
			return
		}
		m.mu.Lock()
		if c := m.lineage[ev.TGID]; c != nil {
			m.exited[ev.TGID] = exitedProc{c: c, at: m.now()}
		}
		delete(m.lineage, ev.TGID)
		m.mu.Unlock()
	}
}

// fastExec checks the exec rule the moment an exec event arrives, with as
// few reads as it can: attribution comes from fork lineage before the
// cgroup, so a process that exits a millisecond later is still judged.
// at is the event's time: a process under that PID started after it took
// the PID over from the one that exec'd (PID reuse) and is not judged
// for it (nor attributed to the earlier one's container). The returned
// key is the process that was judged, for the full evaluation.
func (m *monitor) fastExec(pid int, at time.Duration) (*container, proc.Key) {
	p, err := m.fs.Proc(pid)
	if err != nil {
		return nil, proc.Key{}
	}
	key := p.Key()
	if proc.StartedAfter(key.StartTime, at) {
		m.metrics.pidReused.Inc()
		m.log.Debug("exec event about a process whose pid was reused since", "pid", pid)
		return nil, proc.Key{}
	}
	exe, err := p.Exe()
	if err != nil {
		return nil, proc.Key{}
	}
	m.mu.Lock()
	c := m.lineage[pid]
	m.mu.Unlock()
	if c == nil {
		c = m.containerOfProc(p, pid)
	}
	if c == nil {
		return nil, proc.Key{}
	}
	dec := c.decision()
	if dec == nil || c.killed.Load() {
		return c, key
	}
	ch, prof := dec.checker, dec.Profile
	// The stat is read after the exe: a process now under the PID with
	// another start time means the PID changed hands between the reads and
	// the exe may be the newcomer's. An exited process is still judged.
	st, err := p.Stat()
	gone := err != nil
	if gone {
		if q, qerr := m.fs.Proc(pid); qerr == nil && q.Key() != key {
			m.metrics.pidReused.Inc()
			return nil, proc.Key{}
		}
	}
	snap := snapshot{PID: pid, StartTime: key.StartTime, Exe: exe.Path, ExeDeleted: exe.Deleted, ExeMemfd: exe.Memfd}
	if !gone && m.runtimeInit(p, st, c, &snap) {
		return c, key
	}
	if gone && runcLike(p, &snap, true) {
		return nil, proc.Key{} // gone already and looked like runc's own init: nothing to judge
	}
	if prof.Mode == profiles.ModeLearn {
		// Learning wants the whole snapshot (ids, capabilities): the full
		// evaluation right after records it.
		return c, key
	}
	src := m.findingSource()
	if prof.EffectiveExecSessions() != profiles.ExecSessionsProfile {
		// An operator's exec session runs under its own policy: the
		// enforcer tells the session's commands from the workload's.
		m.findings.submit(c, finding.Finding{Source: src, Command: true,
			Process: &finding.Process{PID: pid, StartTime: key.StartTime, Exe: snap.Exe, UID: snap.UID}})
	}
	m.report(c, src, &snap, ch.set.EvaluateExec(snap))
	return c, key
}

// report hands what the rules found in a snapshot to the enforcer.
func (m *monitor) report(c *container, src finding.Source, snap *snapshot, vs []violationT) {
	for _, v := range vs {
		m.findings.submit(c, fromViolation(src, snap, v))
	}
}

// findingSource is the source of findings from process events.
func (m *monitor) findingSource() finding.Source {
	if m.eventSource() == eventSourceBPF {
		return finding.SourceBPF
	}
	return finding.SourceProcConnector
}

// containerOf attributes a pid to a watched container by its cgroup,
// falling back to fork lineage.
func (m *monitor) containerOf(pid int) *container {
	p, err := m.fs.Proc(pid)
	if err != nil {
		p = proc.Proc{}
	}
	return m.containerOfProc(p, pid)
}

// containerOfProc is containerOf with the process already opened (a zero
// Proc when it could not be).
func (m *monitor) containerOfProc(p proc.Proc, pid int) *container {
	alive := false
	if p.PID() != 0 {
		if lines, err := p.Cgroup(); err == nil {
			alive = true
			if ns, id, ok := proc.ContainerFromCgroup(lines); ok {
				if c := m.reg.get(ns, id); c != nil {
					return c
				}
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.lineage[pid]; c != nil {
		return c
	}
	// A process that has exited is attributed to where it ran for a while;
	// a live process under its PID is another one (the PID was reused).
	if e, ok := m.exited[pid]; ok && !alive && m.now().Sub(e.at) < exitedGrace {
		return e.c
	}
	return nil
}

// exitedGrace is how long an exited process stays attributed.
const exitedGrace = 5 * time.Second

type exitedProc struct {
	c  *container
	at time.Time
}

// startTime returns the start time of pid, 0 when it is gone.
func (m *monitor) startTime(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	p, err := m.fs.Proc(pid)
	if err != nil {
		return 0
	}
	return p.Key().StartTime
}

// track is called when a container is registered. A container found
// running is evaluated at once; one registered by its createRuntime hook
// only holds runc's init until start (the exec event, the start event and
// the rescans evaluate it from then on).
func (m *monitor) track(c *container, pid int, scan bool) {
	m.mu.Lock()
	if pid > 0 {
		m.lineage[pid] = c
	}
	m.mu.Unlock()
	m.recordCgroup(c, pid)
	// Before user code: registered by its hook, or found created (not
	// started). A paused container has run already.
	m.recMu.Lock()
	fromStart := c.Source == sourceHook || c.Status == "created"
	m.recMu.Unlock()
	m.watchCgroup(c, pid, fromStart && !scan)
	if scan {
		m.scanContainer(c)
	}
}

func (m *monitor) untrack(c *container) {
	if caps, fromStart, ok := m.forgetCgroup(c); ok {
		m.learner.learnCaps(c, caps.Used, fromStart)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for pid, lc := range m.lineage {
		if lc == c {
			delete(m.lineage, pid)
		}
	}
	for k, sc := range m.seen {
		if sc == c {
			delete(m.seen, k)
		}
	}
}

// scanContainer evaluates every process of one container now.
func (m *monitor) scanContainer(c *container) {
	pids, err := m.fs.AllPIDs()
	if err != nil {
		m.log.Error("listing processes", "error", err)
		return
	}
	for _, pid := range pids {
		if m.containerOf(pid) == c {
			m.evaluateFrom(finding.SourceRescan, proc.Key{PID: pid}, c)
		}
	}
}

// rescan evaluates every process on the host that belongs to a watched
// container (the backstop for anything the events missed).
func (m *monitor) rescan() {
	m.metrics.rescans.Inc()
	pids, err := m.fs.AllPIDs()
	if err != nil {
		m.log.Error("listing processes", "error", err)
		return
	}
	counts := map[*container]int{}
	live := map[proc.Key]bool{}
	for _, pid := range pids {
		c, key := m.evaluateFrom(finding.SourceRescan, proc.Key{PID: pid}, nil)
		if c != nil {
			counts[c]++
			live[key] = true
		}
	}
	m.recMu.Lock()
	total := 0
	for _, c := range m.reg.all() {
		c.Processes = counts[c]
		total += counts[c]
	}
	m.recMu.Unlock()
	m.metrics.processes.Set(float64(total))
	m.mu.Lock()
	for k := range m.seen {
		if !live[k] {
			delete(m.seen, k)
		}
	}
	for pid, e := range m.exited {
		if m.now().Sub(e.at) > exitedGrace {
			delete(m.exited, pid)
		}
	}
	m.mu.Unlock()
	m.findings.keep(live)
}

// evaluate reads one process and checks it against its container's
// profile, on a process event; c is its container when the caller
// already knows it, else the process is attributed here.
func (m *monitor) evaluate(pid int, c *container) (*container, proc.Key) {
	return m.evaluateFrom(m.findingSource(), proc.Key{PID: pid}, c)
}

// evaluateKey is evaluate of the process k names; k.StartTime 0 takes
// whichever process has the PID now.
func (m *monitor) evaluateKey(k proc.Key, c *container) (*container, proc.Key) {
	return m.evaluateFrom(m.findingSource(), k, c)
}

// evaluateFrom is evaluateKey for findings of source src.
func (m *monitor) evaluateFrom(src finding.Source, k proc.Key, c *container) (*container, proc.Key) {
	pid := k.PID
	var p proc.Proc
	var err error
	if k.StartTime != 0 {
		p, err = m.fs.ProcKey(k)
	} else {
		p, err = m.fs.Proc(pid)
	}
	if err != nil {
		return nil, proc.Key{}
	}
	st, err := p.Stat()
	if err != nil || st.Zombie() || st.KernelThread() {
		return nil, proc.Key{}
	}
	if c == nil {
		c = m.containerOfProc(p, pid)
	}
	if c == nil {
		return nil, proc.Key{}
	}
	dec := c.decision()
	if dec == nil || c.killed.Load() {
		return c, p.Key()
	}
	ch, prof := dec.checker, dec.Profile
	m.mu.Lock()
	m.seen[p.Key()] = c
	m.mu.Unlock()
	snap, err := rules.Capture(p, rules.CaptureOptions{})
	if err != nil {
		return c, p.Key()
	}
	if m.runtimeInit(p, st, c, &snap) {
		return c, p.Key()
	}
	if prof.Mode == profiles.ModeLearn {
		m.learner.learn(c, &snap)
		return c, p.Key()
	}
	m.report(c, src, &snap, ch.evaluate(&snap))
	return c, p.Key()
}

// runtimeInit recognises runc's own init process inside a container's
// cgroup, between `runc create|exec` and the execve of the user's binary.
// Its executable (measured): runc 1.1.5 reads "/" (a sealed copy of
// itself); runc 1.2+ reads "/runc", on a detached overlay mount that no
// mount table lists; other builds show a memfd ("/memfd:runc_cloned:...").
// Its parent is runc or the shim, outside the container. Both conditions
// are required: every process the workload creates has its parent inside
// the container, no file the workload can run reads as "/", and its own
// files are on its mounts. The residual gap: a container's init (or an
// exec'd process, whose parents are outside too) that re-executes itself
// from a memfd named like runc's; it is still evaluated on every other
// rule and by the deleted-executable check once it runs anything else.
func (m *monitor) runtimeInit(p proc.Proc, st proc.Stat, c *container, snap *snapshot) bool {
	return runcLike(p, snap, false) && m.containerOf(st.PPID) != c
}

// runcLike reports an executable that looks like runc's own init. gone:
// the process has exited and its mounts cannot be checked any more.
func runcLike(p proc.Proc, snap *snapshot, gone bool) bool {
	switch {
	case snap.Exe == "/":
		return true
	case snap.ExeMemfd && strings.Contains(snap.Exe, "runc"):
		return true
	case snap.Exe == "/runc":
		if gone {
			return true
		}
		detached, err := p.ExeDetached()
		return err == nil && detached
	}
	return false
}

// killProcess signals one process through a pidfd checked against its
// start time (an exec session's root).
func (m *monitor) killProcess(pid int, start uint64) error {
	return kill.KillPidfd(m.fs, pid, start)
}

// exeOf reads a process's executable, "" when it cannot.
func (m *monitor) exeOf(pid int) string {
	if e, err := m.fs.ExeOf(pid); err == nil {
		return e.Path
	}
	return ""
}

// recordCgroup notes the container's cgroup from its init's, for the kill.
func (m *monitor) recordCgroup(c *container, pid int) {
	if pid <= 0 {
		return
	}
	p, err := m.fs.Proc(pid)
	if err != nil {
		return
	}
	lines, err := p.Cgroup()
	if err != nil {
		return
	}
	if path, ok := proc.ContainerCgroupPath(lines, c.Namespace, c.ID); ok {
		m.recMu.Lock()
		c.Cgroup = path
		m.recMu.Unlock()
	}
}

// cgroupDir is the directory of the container's cgroup under the cgroup
// root: the path recorded at registration, else found by its namespace
// and id.
func (m *monitor) cgroupDir(c *container) (string, error) {
	m.recMu.Lock()
	path := c.Cgroup
	m.recMu.Unlock()
	if path != "" {
		if dir, err := m.cgroups.Resolve(path); err == nil {
			return dir, nil
		}
	}
	return m.cgroups.Cgroup(c.Namespace, c.ID)
}

// killContainer signals every process of a container: cgroup.kill when
// the kernel has it, else pidfds of every process in the cgroup.
func (m *monitor) killContainer(c *container) error {
	cg, err := m.cgroupDir(c)
	if err == nil {
		if err = kill.KillCgroup(cg); err == nil {
			return nil
		}
	}
	// Fall back to the processes we know, each checked against its start
	// time through a pidfd so a reused pid is never signalled.
	var errs []error
	errs = append(errs, err)
	m.mu.Lock()
	var keys []proc.Key
	for k, sc := range m.seen {
		if sc == c {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	m.recMu.Lock()
	initPid, initStart := c.Pid, c.PidStart
	m.recMu.Unlock()
	if initPid > 0 && initStart > 0 {
		keys = append(keys, proc.Key{PID: initPid, StartTime: initStart})
	}
	killed := 0
	for _, k := range keys {
		if err := kill.KillPidfd(m.fs, k.PID, k.StartTime); err != nil {
			errs = append(errs, err)
		} else {
			killed++
		}
	}
	if killed > 0 {
		return nil
	}
	return errors.Join(errs...)
}
