package daemon

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/profiles"
)

// violation acts on one finding: in monitor mode an alert (identical ones
// aggregated), in enforce mode a kill of the whole container and one alert
// saying why (or an alert only with onViolation: alert). files.watch hits
// are alerts in every mode.
func (d *Daemon) violation(c *container, snap *snapshot, v violationT) {
	prof := c.profile()
	if prof == nil || c.killed.Load() {
		return
	}
	d.mu.Lock()
	c.Violations++
	d.mu.Unlock()
	if v.Subject != "" && !strings.Contains(v.Detail, v.Subject) {
		v.Detail = v.Detail + ": " + v.Subject
	}
	if d.sessionViolation(c, prof, snap, v) {
		return // an exec session's, under execSessions audit or deny
	}
	d.stats.violations.Add(1)
	d.metrics.violations.WithLabelValues(v.Rule, string(prof.Mode)).Inc()

	a := d.baseAlert(c, prof, snap)
	a.Rule = v.Rule
	setSubject(a, v)
	setLayer(a, v)
	enforce := prof.Mode == profiles.ModeEnforce && !v.Watch
	if !enforce || prof.EffectiveOnViolation() == profiles.OnViolationAlert {
		a.Event = alert.EventViolation
		a.Action = alert.ActionAlerted
		a.Priority = alert.PriWarning
		a.Message = fmt.Sprintf("confine: %s violation in %s/%s (profile %s, %s): %s", v.Rule, c.Namespace, c.ID, prof.Name, prof.Mode, v.Detail)
		if v.Watch {
			a.Message = fmt.Sprintf("confine: watched file read in %s/%s (profile %s): %s", c.Namespace, c.ID, prof.Name, v.Detail)
			a.Priority = alert.PriNotice
		}
		d.alerts.emitAggregated(a)
		return
	}
	reason := fmt.Sprintf("%s: %s", v.Rule, v.Detail)
	d.kill(c, reason)
	d.metrics.kills.WithLabelValues(v.Rule).Inc()
	a.Event = alert.EventKill
	a.Action = alert.ActionKilled
	a.Priority = alert.PriCrit
	a.Message = fmt.Sprintf("confine: killed container %s/%s (profile %s, enforce): %s violation: %s", c.Namespace, c.ID, prof.Name, v.Rule, v.Detail)
	d.alerts.emit(a)
}

// baseAlert fills who and where.
func (d *Daemon) baseAlert(c *container, prof *profiles.Profile, snap *snapshot) *alert.Alert {
	d.mu.Lock()
	image := c.Image
	d.mu.Unlock()
	digest := ""
	if dec := c.decision(); dec != nil {
		digest = dec.Digest
	}
	a := &alert.Alert{
		Namespace: c.Namespace, Container: c.ID, Image: image,
		Profile: prof.Name, Mode: string(prof.Mode),
	}
	if snap != nil {
		a.PID = snap.PID
		a.Exe = snap.Exe
		uid := int(snap.UID)
		a.UID = &uid
		a.Extra = map[string]string{"PROFILE_DIGEST": digest}
		if snap.StartTime != 0 {
			a.Extra["PID_START"] = strconv.FormatUint(snap.StartTime, 10)
		}
	}
	return a
}

// denied acts on something the kernel already refused (fanotify EPERM,
// a seccomp EPERM through the listener, an nftables reject): with
// onViolation: kill the container is killed as for any violation;
// otherwise one "denied" alert (identical ones aggregated).
func (d *Daemon) denied(c *container, snap *snapshot, v violationT) {
	prof := c.profile()
	if c.killed.Load() || prof == nil {
		return
	}
	if prof.EffectiveOnViolation() == profiles.OnViolationKill {
		d.violation(c, snap, v)
		return
	}
	d.stats.violations.Add(1)
	d.metrics.violations.WithLabelValues(v.Rule, string(prof.Mode)).Inc()
	a := d.baseAlert(c, prof, snap)
	a.Event, a.Rule, a.Action, a.Priority = alert.EventDenied, v.Rule, alert.ActionDenied, alert.PriErr
	setSubject(a, v)
	setLayer(a, v)
	a.Message = fmt.Sprintf("confine: denied %s in %s/%s (profile %s): %s", v.Rule, c.Namespace, c.ID, prof.Name, v.Detail)
	d.alerts.emitAggregated(a)
}

// note adds a line to what confinectl ps shows for a container.
func (d *Daemon) note(c *container, msg string) {
	d.mu.Lock()
	c.Notes = append(c.Notes, msg)
	d.mu.Unlock()
}

// setSubject puts a violation's subject in the alert field of its rule.
func setSubject(a *alert.Alert, v violationT) {
	switch v.Rule {
	case alert.RuleFile:
		a.Path = v.Subject
	case alert.RuleNetwork:
		a.Peer = v.Subject
	default:
		if syscallRule(v.Rule) {
			a.Syscall = v.Subject
		}
	}
}

// setLayer names the layer that saw or refused it (CONFINE_LAYER).
func setLayer(a *alert.Alert, v violationT) {
	if v.Layer == "" {
		return
	}
	if a.Extra == nil {
		a.Extra = map[string]string{}
	}
	a.Extra["LAYER"] = v.Layer
}
