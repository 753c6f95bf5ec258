package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/profiles"
)

// findingQueue bounds the hand-off from the sources to the enforcer. A
// burst of 10,000 identical refused syscalls fits.
const findingQueue = 16384

// The enforcer's dependencies, each as small as it can be.
type (
	// alertSink carries alerts (the alerter).
	alertSink interface {
		emit(*alert.Alert)
		emitAggregated(*alert.Alert)
	}
	// killer signals processes: a whole container at once (cgroup.kill,
	// else pidfds of its processes), or one process by pidfd checked
	// against its start time (an exec session's root).
	killer interface {
		killContainer(c *container) error
		killProcess(pid int, start uint64) error
	}
	// taskKiller tells containerd, so its state and exit status follow.
	taskKiller interface {
		Kill(ctx context.Context, ns, id string, sig syscall.Signal, all bool) error
	}
	// sessionFinder finds the root of the exec session a process of c
	// belongs to (0: the workload's).
	sessionFinder interface {
		sessionOf(c *container, pid int) (root int, start uint64)
	}
	// lossReporter is the overflow policy (overflow.go).
	lossReporter interface {
		lost(source, what string, n uint64)
	}
	// findingSink takes findings without blocking; keep forgets the
	// processes reported so far that are not live any more.
	findingSink interface {
		submit(c *container, f finding.Finding)
		keep(live map[proc.Key]bool)
	}
)

// enforcerDeps wires an enforcer.
type enforcerDeps struct {
	log     *slog.Logger
	mu      *sync.Mutex // guards the records' mutable fields (Daemon.mu)
	alerts  alertSink
	metrics *metrics
	// violations and kills are the totals confinectl status shows.
	violations, kills *atomic.Int64
	killer            killer
	tasks             taskKiller
	sessions          sessionFinder
	lost              lossReporter
}

// enforcer is the one consumer of findings. On its own goroutine, off
// every source's event path, it decides by the container's mode, the
// profile's onViolation and execSessions, kills (a freeze-and-sweep kill
// of one container never holds up the reading of another's events),
// alerts, and tells containerd. A process is reported once per rule and
// subject.
type enforcer struct {
	enforcerDeps

	queue   chan queued
	done    chan struct{}
	idle    chan struct{}
	started atomic.Bool
	once    sync.Once

	repMu sync.Mutex
	// reported remembers each (process, rule, subject) already acted on,
	// so a violating process is one alert, not one per rescan.
	reported map[proc.Key]map[string]bool
}

// queued is a finding with the record its source attributed it to (the
// record is kept even if the container is forgotten before the enforcer
// gets to it: a monitor-mode alert still goes out).
type queued struct {
	c *container
	f finding.Finding
}

func newEnforcer(deps enforcerDeps) *enforcer {
	return &enforcer{
		enforcerDeps: deps,
		queue:        make(chan queued, findingQueue),
		done:         make(chan struct{}),
		idle:         make(chan struct{}),
		reported:     map[proc.Key]map[string]bool{},
	}
}

// start runs the enforcer until stop.
func (e *enforcer) start() {
	if e.started.CompareAndSwap(false, true) {
		go e.run()
	}
}

// submit hands a finding over without blocking; a full queue is an
// overflow (counted, alerted once, followed by a rescan). After stop,
// findings are dropped.
func (e *enforcer) submit(c *container, f finding.Finding) {
	if c == nil {
		return
	}
	if f.Container == "" {
		f.Container = c.key()
	}
	select {
	case <-e.done:
		return
	default:
	}
	select {
	case e.queue <- queued{c, f}:
	default:
		e.lost.lost(string(f.Source), "findings handed to the enforcer", 1)
	}
}

// run consumes findings until stop, then acts on those already queued.
func (e *enforcer) run() {
	defer close(e.idle)
	for {
		select {
		case q := <-e.queue:
			e.handle(q.c, q.f)
		case <-e.done:
			e.drain()
			return
		}
	}
}

// stop acts on the findings already queued and returns; later ones are
// dropped. The alerter may close after it.
func (e *enforcer) stop() {
	e.once.Do(func() { close(e.done) })
	if e.started.Load() {
		<-e.idle
	}
}

// drain handles what is queued now, on the caller's goroutine.
func (e *enforcer) drain() {
	for {
		select {
		case q := <-e.queue:
			e.handle(q.c, q.f)
		default:
			return
		}
	}
}

// handle decides on one finding.
func (e *enforcer) handle(c *container, f finding.Finding) {
	dec := c.decision()
	if dec == nil || c.killed.Load() {
		return
	}
	if !e.first(f) {
		return
	}
	switch {
	case f.Rule == alert.RuleSecret:
		e.secretRead(c, dec, f)
	case f.Command:
		e.command(c, dec, f)
	case f.KernelRefused && dec.Profile.EffectiveOnViolation() != profiles.OnViolationKill:
		e.refused(c, dec, f)
	default:
		e.violation(c, dec, f)
	}
}

// first records that a process broke a rule on a subject and tells
// whether it is the first time. Findings without a process identity
// (no start time) are all first: identical alerts are aggregated instead.
func (e *enforcer) first(f finding.Finding) bool {
	p := f.Process
	if f.Command || p == nil || p.PID <= 0 || p.StartTime == 0 {
		return true
	}
	k := proc.Key{PID: p.PID, StartTime: p.StartTime}
	what := f.Rule + "|" + f.Subject
	e.repMu.Lock()
	defer e.repMu.Unlock()
	r := e.reported[k]
	if r == nil {
		r = map[string]bool{}
		e.reported[k] = r
	}
	if r[what] {
		return false
	}
	r[what] = true
	return true
}

// keep forgets the processes reported so far that are not in live (a
// rescan's view): their PIDs may be reused.
func (e *enforcer) keep(live map[proc.Key]bool) {
	e.repMu.Lock()
	defer e.repMu.Unlock()
	for k := range e.reported {
		if !live[k] {
			delete(e.reported, k)
		}
	}
}

// session returns the exec-session policy that applies to f's process
// and its session's root; policy "" means the workload's rules apply.
func (e *enforcer) session(c *container, prof *profiles.Profile, f finding.Finding) (policy string, root int, start uint64) {
	if prof.Mode == profiles.ModeLearn || prof.EffectiveExecSessions() == profiles.ExecSessionsProfile || f.Process == nil {
		return "", 0, 0
	}
	if s := f.Session; s != nil {
		// Known by the source: the process is a session's, whatever /proc
		// shows now (when the root could not be found, the process's own
		// PID names the session).
		if s.Root == 0 {
			return prof.EffectiveExecSessions(), f.Process.PID, 0
		}
		return prof.EffectiveExecSessions(), s.Root, s.Start
	}
	if e.sessions == nil {
		return "", 0, 0
	}
	root, start = e.sessions.sessionOf(c, f.Process.PID)
	if root == 0 {
		return "", 0, 0
	}
	return prof.EffectiveExecSessions(), root, start
}

// violation acts on a rule broken: in monitor mode an alert (identical
// ones aggregated), in enforce mode a kill of the whole container and one
// alert saying why (or an alert only with onViolation: alert). files.watch
// hits are alerts in every mode. An exec session's findings follow its
// policy instead (audit: reported, not killed; deny: the session killed).
func (e *enforcer) violation(c *container, dec *decision, f finding.Finding) {
	prof := dec.Profile
	e.mu.Lock()
	c.Violations++
	e.mu.Unlock()
	if e.bySession(c, dec, f) {
		return
	}
	e.count(f, prof)
	a := e.baseAlert(c, dec, f)
	enforce := prof.Mode == profiles.ModeEnforce && !f.Watch
	if !enforce || prof.EffectiveOnViolation() == profiles.OnViolationAlert {
		a.Event, a.Action, a.Priority = alert.EventViolation, alert.ActionAlerted, alert.PriWarning
		a.Message = fmt.Sprintf("confine: %s violation in %s/%s (profile %s, %s): %s", f.Rule, c.Namespace, c.ID, prof.Name, prof.Mode, f.Detail())
		if f.Watch {
			a.Message = fmt.Sprintf("confine: watched file read in %s/%s (profile %s): %s", c.Namespace, c.ID, prof.Name, f.Detail())
			a.Priority = alert.PriNotice
		}
		e.alerts.emitAggregated(a)
		return
	}
	e.kill(c, fmt.Sprintf("%s: %s", f.Rule, f.Detail()))
	e.metrics.kills.WithLabelValues(f.Rule).Inc()
	a.Event, a.Action, a.Priority = alert.EventKill, alert.ActionKilled, alert.PriCrit
	a.Message = fmt.Sprintf("confine: killed container %s/%s (profile %s, enforce): %s violation: %s", c.Namespace, c.ID, prof.Name, f.Rule, f.Detail())
	e.alerts.emit(a)
}

// bySession applies the exec-session policy to a finding about a
// session's process and reports whether it did: audit reports it as the
// session's (never a kill), deny kills the session's root; the workload's
// findings, and every finding under execSessions: profile, go on.
func (e *enforcer) bySession(c *container, dec *decision, f finding.Finding) bool {
	prof := dec.Profile
	switch policy, root, start := e.session(c, prof, f); policy {
	case profiles.ExecSessionsAudit:
		e.count(f, prof)
		a := e.baseAlert(c, dec, f)
		a.Event, a.Action, a.Priority = alert.EventViolation, alert.ActionAlerted, alert.PriWarning
		sessionField(a, root)
		a.Message = fmt.Sprintf("confine: %s violation in exec session %d of %s/%s (profile %s, execSessions: audit, not killed): %s", f.Rule, root, c.Namespace, c.ID, prof.Name, f.Detail())
		e.alerts.emitAggregated(a)
		return true
	case profiles.ExecSessionsDeny:
		e.denySession(c, dec, f, root, start)
		return true
	}
	return false
}

// refused acts on something the kernel already refused (fanotify EPERM,
// a seccomp EPERM through the listener, an nftables reject, a Landlock
// denial) when onViolation is not kill: one "denied" alert (identical
// ones aggregated), or, for an exec session's syscall, the session's
// policy.
func (e *enforcer) refused(c *container, dec *decision, f finding.Finding) {
	prof := dec.Profile
	if f.Session != nil && e.bySession(c, dec, f) {
		// A syscall an exec session's filter sent: the listener let it
		// through under audit (reported as the session's), refused it
		// under deny.
		return
	}
	e.count(f, prof)
	a := e.baseAlert(c, dec, f)
	a.Event, a.Action, a.Priority = alert.EventDenied, alert.ActionDenied, alert.PriErr
	a.Message = fmt.Sprintf("confine: denied %s in %s/%s (profile %s): %s", f.Rule, c.Namespace, c.ID, prof.Name, f.Evidence)
	e.alerts.emitAggregated(a)
}

// secretRead reports a credential file opened (the secret watch): an
// alert in every mode and profile, never a kill, not counted as a
// violation.
func (e *enforcer) secretRead(c *container, dec *decision, f finding.Finding) {
	prof := dec.Profile
	a := e.baseAlert(c, dec, f)
	a.Event, a.Action, a.Priority = alert.EventViolation, alert.ActionAlerted, alert.PriWarning
	a.Path = f.Subject
	a.UID = nil
	exe, pid := "a process that has exited", 0
	if p := f.Process; p != nil {
		pid = p.PID
		if p.Exe != "" {
			exe = p.Exe
		}
	}
	a.Message = fmt.Sprintf("confine: secret read in %s/%s (profile %s, %s): %s opened by %s (pid %d)", c.Namespace, c.ID, prof.Name, prof.Mode, f.Subject, exe, pid)
	e.alerts.emitAggregated(a)
}

// command applies the exec-session policy to a command a process ran:
// reported under audit, the session killed under deny; the workload's
// commands are nothing to act on.
func (e *enforcer) command(c *container, dec *decision, f finding.Finding) {
	prof := dec.Profile
	policy, root, start := e.session(c, prof, f)
	switch policy {
	case profiles.ExecSessionsAudit:
		a := e.baseAlert(c, dec, f)
		a.Event, a.Rule, a.Action, a.Priority = alert.EventExecSession, alert.RuleExec, alert.ActionAlerted, alert.PriNotice
		sessionField(a, root)
		a.Message = fmt.Sprintf("confine: exec session %d of %s/%s (profile %s, execSessions: audit) ran %s", root, c.Namespace, c.ID, prof.Name, f.Process.Exe)
		e.alerts.emit(a)
	case profiles.ExecSessionsDeny:
		e.denySession(c, dec, f, root, start)
	}
}

// denySession kills a session's root (pidfd, checked against its start
// time) and reports it (identical reports aggregated).
func (e *enforcer) denySession(c *container, dec *decision, f finding.Finding, root int, start uint64) {
	prof := dec.Profile
	err := e.killer.killProcess(root, start)
	a := e.baseAlert(c, dec, f)
	a.Event, a.Rule, a.Action, a.Priority = alert.EventExecSession, alert.RuleExec, alert.ActionKilled, alert.PriErr
	a.Path, a.Peer, a.Syscall = "", "", ""
	sessionField(a, root)
	exe := ""
	if f.Process != nil {
		exe = f.Process.Exe
	}
	a.Message = fmt.Sprintf("confine: exec session %d into %s/%s killed (profile %s, execSessions: deny): %s", root, c.Namespace, c.ID, prof.Name, exe)
	if err != nil {
		a.Action = alert.ActionAlerted
		a.Message = fmt.Sprintf("confine: exec session %d into %s/%s could not be killed (profile %s, execSessions: deny): %v", root, c.Namespace, c.ID, prof.Name, err)
	}
	e.alerts.emitAggregated(a)
}

// count adds a finding to the totals.
func (e *enforcer) count(f finding.Finding, prof *profiles.Profile) {
	e.violations.Add(1)
	e.metrics.violations.WithLabelValues(f.Rule, string(prof.Mode)).Inc()
}

// kill stops a whole container: signal first (the cgroup, or pidfds of
// its processes), then tell containerd, in the background, so its state
// and exit status follow; the alert does not wait for containerd.
func (e *enforcer) kill(c *container, reason string) {
	if !c.killed.CompareAndSwap(false, true) {
		return
	}
	e.mu.Lock()
	c.KillReason = reason
	e.mu.Unlock()
	e.kills.Add(1)
	err := e.killer.killContainer(c)
	if err != nil {
		e.log.Error("killing container through its cgroup", "namespace", c.Namespace, "container", c.ID, "error", err)
	}
	if e.tasks != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if kerr := e.tasks.Kill(ctx, c.Namespace, c.ID, syscall.SIGKILL, true); kerr != nil {
				level := slog.LevelDebug
				if err != nil {
					level = slog.LevelError
				}
				e.log.Log(ctx, level, "killing container through containerd", "namespace", c.Namespace, "container", c.ID, "error", kerr)
			}
		}()
	}
	e.log.Warn("container killed", "namespace", c.Namespace, "container", c.ID, "reason", reason)
}

// baseAlert fills who and where, and the finding's rule, subject and layer.
func (e *enforcer) baseAlert(c *container, dec *decision, f finding.Finding) *alert.Alert {
	a := containerAlert(e.mu, c, dec.Profile)
	a.Rule = f.Rule
	if p := f.Process; p != nil {
		a.PID = p.PID
		a.Exe = p.Exe
		uid := int(p.UID)
		a.UID = &uid
		a.Extra = map[string]string{"PROFILE_DIGEST": dec.Digest}
		if p.StartTime != 0 {
			a.Extra["PID_START"] = strconv.FormatUint(p.StartTime, 10)
		}
	}
	setSubject(a, f.Rule, f.Subject)
	setLayer(a, f.Layer)
	return a
}

// sessionField names the session's thread in an alert.
func sessionField(a *alert.Alert, root int) {
	if a.Extra == nil {
		a.Extra = map[string]string{}
	}
	a.Extra["SESSION"] = strconv.Itoa(root)
}

// setSubject puts a finding's subject in the alert field of its rule.
func setSubject(a *alert.Alert, rule, subject string) {
	switch rule {
	case alert.RuleFile:
		a.Path = subject
	case alert.RuleNetwork:
		a.Peer = subject
	default:
		if syscallRule(rule) {
			a.Syscall = subject
		}
	}
}

// setLayer names the layer that saw or refused it (CONFINE_LAYER).
func setLayer(a *alert.Alert, layer string) {
	if layer == "" {
		return
	}
	if a.Extra == nil {
		a.Extra = map[string]string{}
	}
	a.Extra["LAYER"] = layer
}

// fromViolation turns what the rules found in a snapshot into a finding.
func fromViolation(src finding.Source, snap *snapshot, v violationT) finding.Finding {
	f := finding.Finding{
		Source: src, Rule: v.Rule, Subject: v.Subject, Evidence: v.Detail,
		Layer: v.Layer, Watch: v.Watch,
	}
	if snap != nil {
		f.Process = &finding.Process{PID: snap.PID, StartTime: snap.StartTime, Exe: snap.Exe, UID: snap.UID}
	}
	return f
}
