package daemon

import (
	"fmt"
	"strconv"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/monitor/kill"
	"github.com/confinehq/confine/profiles"
)

// Operator exec sessions (execSessions: deny | profile | audit). A process
// started with `runc exec` (docker exec, ctr task exec) is the root of a
// session: its parent is outside the container (runc) and it is not the
// container's init. Its descendants belong to the session too. The
// policy of the container's profile says what happens to them:
//
//   - profile (the default): held to the profile like the workload;
//   - audit: the same rules, but what breaks them is reported, never
//     killed, and every command the session runs is reported too, all
//     with CONFINE_SESSION=<pid of the session's root>, one thread;
//   - deny: the session is killed (its root, by pidfd) as soon as it is
//     seen, and reported; the workload goes on.
//
// The seccomp listener knows sessions from the filter runc loads for
// them (OCI state "running"): their refused syscalls follow the policy
// too. Detection from /proc walks the parent chain, so a session whose
// root has already exited and whose children were reparented to the
// container's init is seen as the workload, and a command that exits
// before /proc is read is not listed (its refused syscalls still are).
// The fanotify guard does not know sessions: with it on, an audited
// session's exec outside exec.allow is still denied before it happens.

// sessionMaxDepth bounds the parent walk.
const sessionMaxDepth = 64

// sessionOf returns the root of the exec session pid belongs to in c, 0
// when it is the workload (or cannot be told).
func (d *Daemon) sessionOf(c *container, pid int) (root int, start uint64) {
	d.mu.Lock()
	initPid := c.Pid
	d.mu.Unlock()
	if pid <= 0 || initPid <= 0 {
		return 0, 0
	}
	for i := 0; i < sessionMaxDepth && pid > 0; i++ {
		if pid == initPid {
			return 0, 0
		}
		p, err := d.mon.fs.Proc(pid)
		if err != nil {
			return 0, 0
		}
		st, err := p.Stat()
		if err != nil {
			return 0, 0
		}
		if st.PPID <= 0 || d.mon.containerOf(st.PPID) != c {
			return pid, p.Key().StartTime
		}
		pid = st.PPID
	}
	return 0, 0
}

// sessionPolicy returns the profile's exec session policy and the root
// of snap's session; policy "" means the process is the workload's.
func (d *Daemon) sessionPolicy(c *container, prof *profiles.Profile, snap *snapshot) (string, int, uint64) {
	if prof == nil || snap == nil || prof.Mode == profiles.ModeLearn || prof.EffectiveExecSessions() == profiles.ExecSessionsProfile {
		return "", 0, 0 // the default policy needs no walk: sessions are the workload
	}
	root, start := d.sessionOf(c, snap.PID)
	if root == 0 {
		return "", 0, 0
	}
	return prof.EffectiveExecSessions(), root, start
}

// sessionViolation handles a finding about a session process under the
// audit or deny policy and reports whether it did (the caller then does
// nothing more); profile policy findings go the workload's way.
func (d *Daemon) sessionViolation(c *container, prof *profiles.Profile, snap *snapshot, v violationT) bool {
	policy, root, start := d.sessionPolicy(c, prof, snap)
	return d.sessionFinding(c, prof, snap, v, policy, root, start)
}

// sessionSeccomp is sessionViolation for a syscall the filter of a
// `runc exec` process sent, with the session's root found while the
// caller waited: it is a session's whatever /proc shows now (when the
// root could not be found, the process's own PID names the session).
func (d *Daemon) sessionSeccomp(c *container, prof *profiles.Profile, snap *snapshot, v violationT, root int, start uint64) bool {
	if root == 0 {
		root = snap.PID
	}
	return d.sessionFinding(c, prof, snap, v, prof.EffectiveExecSessions(), root, start)
}

func (d *Daemon) sessionFinding(c *container, prof *profiles.Profile, snap *snapshot, v violationT, policy string, root int, start uint64) bool {
	switch policy {
	case profiles.ExecSessionsAudit:
		d.stats.violations.Add(1)
		d.metrics.violations.WithLabelValues(v.Rule, string(prof.Mode)).Inc()
		a := d.baseAlert(c, prof, snap)
		a.Event, a.Rule, a.Action, a.Priority = alert.EventViolation, v.Rule, alert.ActionAlerted, alert.PriWarning
		setSubject(a, v)
		sessionField(a, root)
		a.Message = fmt.Sprintf("confine: %s violation in exec session %d of %s/%s (profile %s, execSessions: audit, not killed): %s", v.Rule, root, c.Namespace, c.ID, prof.Name, v.Detail)
		d.alerts.emitAggregated(a)
		return true
	case profiles.ExecSessionsDeny:
		d.denySession(c, prof, snap, root, start)
		return true
	}
	return false
}

// sessionCommand reports a command an exec session ran (audit), or kills
// a session the profile denies. It is called for every exec event.
func (d *Daemon) sessionCommand(c *container, prof *profiles.Profile, snap *snapshot) {
	policy, root, start := d.sessionPolicy(c, prof, snap)
	switch policy {
	case profiles.ExecSessionsAudit:
		a := d.baseAlert(c, prof, snap)
		a.Event, a.Rule, a.Action, a.Priority = alert.EventExecSession, alert.RuleExec, alert.ActionAlerted, alert.PriNotice
		sessionField(a, root)
		a.Message = fmt.Sprintf("confine: exec session %d of %s/%s (profile %s, execSessions: audit) ran %s", root, c.Namespace, c.ID, prof.Name, snap.Exe)
		d.alerts.emit(a)
	case profiles.ExecSessionsDeny:
		d.denySession(c, prof, snap, root, start)
	}
}

// denySession kills a session's root (pidfd, checked against its start
// time) and reports it once per process.
func (d *Daemon) denySession(c *container, prof *profiles.Profile, snap *snapshot, root int, start uint64) {
	err := kill.KillPidfd(root, start)
	a := d.baseAlert(c, prof, snap)
	a.Event, a.Rule, a.Action, a.Priority = alert.EventExecSession, alert.RuleExec, alert.ActionKilled, alert.PriErr
	sessionField(a, root)
	a.Message = fmt.Sprintf("confine: exec session %d into %s/%s killed (profile %s, execSessions: deny): %s", root, c.Namespace, c.ID, prof.Name, snap.Exe)
	if err != nil {
		a.Action = alert.ActionAlerted
		a.Message = fmt.Sprintf("confine: exec session %d into %s/%s could not be killed (profile %s, execSessions: deny): %v", root, c.Namespace, c.ID, prof.Name, err)
	}
	d.alerts.emitAggregated(a)
}

// sessionField names the session's thread in an alert.
func sessionField(a *alert.Alert, root int) {
	if a.Extra == nil {
		a.Extra = map[string]string{}
	}
	a.Extra["SESSION"] = strconv.Itoa(root)
}
