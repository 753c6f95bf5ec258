package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/monitor/audit"
	"github.com/confinehq/confine/monitor/egress"
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
	"github.com/confinehq/confine/seccomp/notify"
	"github.com/confinehq/confine/seccomp/syscalls"
)

// This file wires what the kernel enforces or reports on confined's
// behalf: the seccomp notify listener (learning syscalls, reporting denied
// ones) and the per-container nftables egress rules.

// startNotify opens the seccomp notify listener in run_dir. Without it,
// learn mode records no syscalls and denied syscalls are not reported
// (they are still denied by the kernel).
func (d *Daemon) startNotify() {
	l, err := notify.Listen(filepath.Join(d.cfg.RunDir, "seccomp.sock"), notify.HandlerFunc(d.handleSyscall), d.log)
	if err != nil {
		d.log.Error("seccomp notify listener unavailable: learn mode records no syscalls", "error", err)
		return
	}
	d.seccompListener = l
}

// handleSyscall answers one trapped syscall. It only writes to memory and
// to a buffered channel: the process waits for this answer.
func (d *Daemon) handleSyscall(nc notify.Container, r *notify.Request) notify.Response {
	ns := nc.Namespace
	if ns == "" {
		ns = nc.Annotations["io.containerd.namespace"]
	}
	c := d.reg.get(ns, nc.ID)
	var prof *profiles.Profile
	if c != nil {
		prof = c.profile()
	}
	if prof == nil {
		// Not registered (yet): the bundle says which profile it runs.
		if p, ok := annotatedProfile(d.profiles.Current(), nc.Annotations); ok {
			prof = p
		}
	}
	if prof == nil {
		return notify.Errno(syscall.EPERM)
	}
	switch prof.Mode {
	case profiles.ModeLearn:
		d.metrics.learnSyscalls.Inc()
		d.learner.syscall(prof, r.Syscall)
		return notify.Continue()
	case profiles.ModeMonitor:
		// Counted here, not queued: aggregation keeps every occurrence
		// (a burst of identical violations adds up exactly).
		if c != nil {
			d.enf.submit(c, seccompFinding(prof, r.PID, d.mon.exeOf(r.PID), r.Syscall, r.Args))
		}
		return notify.Continue()
	default:
		session := nc.Status == "running"
		if c != nil {
			// Read while the caller waits for the answer: it is the
			// process that made the call (identical alerts aggregate by it).
			f := seccompFinding(prof, r.PID, d.mon.exeOf(r.PID), r.Syscall, r.Args)
			f.KernelRefused = true
			if session {
				f.Session = &finding.Session{}
				if prof.EffectiveExecSessions() != profiles.ExecSessionsProfile {
					// The caller is alive until answered: its parents are too.
					f.Session.Root, f.Session.Start = d.mon.sessionOf(c, r.PID)
				}
			}
			d.enf.submit(c, f)
		}
		if session && prof.EffectiveExecSessions() == profiles.ExecSessionsAudit {
			// An audited operator session: allowed, and reported.
			return notify.Continue()
		}
		return notify.Errno(syscall.EPERM)
	}
}

// decisionFor adapts a selected profile for confine-runc: learn mode gets
// a filter that traps only what was not learned yet; profiles with a
// seccomp section get the listener so denials are reported.
func (d *Daemon) decisionFor(p *profiles.Profile) (listener string) {
	if d.seccompListener == nil {
		return ""
	}
	switch {
	case p.Mode == profiles.ModeLearn:
		// Learning does not trap: confine-runc turns this allow list of
		// what is already known into a filter that allows it and logs
		// (SCMP_ACT_LOG) everything else; the audit records name each
		// new syscall (see learnAudit). A trapped syscall would fail with
		// EINTR whenever a signal arrived while it waited for confined.
		known := learnedSyscalls(d.learner.knownSyscalls(p))
		p.Seccomp = profiles.Seccomp{DefaultAction: profiles.ActionErrno, Allow: append(profiles.List{}, known...)}
		return ""
	case !p.Seccomp.IsZero() || p.Privileges.DeniesAny():
		return d.seccompListener.Path()
	}
	return ""
}

// learnedSyscalls is what a learned profile allows: what was trapped, plus
// the runtime's own floor and write (never trapped).
func learnedSyscalls(trapped []string) []string {
	out := append([]string{"write"}, trapped...)
	out = append(out, seccomp.RuntimeFloor...)
	out = append(out, seccomp.EarlyInitFloor...)
	slices.Sort(out)
	return slices.Compact(out)
}

// applyEgress installs the container's nftables rules in its network
// namespace, before its user code runs (createRuntime). Profiles without
// a network section get none.
func (d *Daemon) applyEgress(c *container) {
	dec := c.decision()
	d.mu.Lock()
	pid := c.Pid
	d.mu.Unlock()
	if dec == nil || dec.Profile.Network.IsZero() || pid <= 0 {
		return
	}
	p := dec.Profile
	r, err := egress.Apply(pid, p, egress.Options{Container: c.key(), Mode: p.Mode, Denied: d.deniedCh, Proc: d.mon.fs})
	switch {
	case errors.Is(err, egress.ErrHostNetwork):
		d.note(c, "host network: egress not isolated by nftables (watched through /proc)")
		d.layerMissing(c, alert.LayerNftables, "host network: no network namespace of its own to put nftables rules in (connections are watched through /proc)")
		return
	case err != nil:
		d.log.Error("installing egress rules", "namespace", c.Namespace, "container", c.ID, "error", err)
		d.note(c, "egress rules not installed: "+err.Error())
		d.layerMissing(c, alert.LayerNftables, err.Error())
		return
	}
	if !publish(&d.mu, c, &c.egress, r) {
		return // forgotten while the rules were installed
	}
	// A reload between reading the decision and publishing the rules.
	if now := c.decision(); now != dec {
		if err := r.Update(now.Profile); err != nil {
			d.log.Error("updating egress rules", "namespace", c.Namespace, "container", c.ID, "error", err)
		}
	}
	d.layerOn(c, alert.LayerNftables, "")
	d.log.Info("egress rules installed", "namespace", c.Namespace, "container", c.ID, "netns", r.NetNS())
}

// deniedLoop turns connections nftables refused (or, in monitor and learn
// mode, let through and logged) into alerts, learning input or kills.
func (d *Daemon) deniedLoop() {
	for ev := range d.deniedCh {
		c := d.reg.getKey(ev.Container)
		if c == nil {
			continue
		}
		prof := c.profile()
		if prof == nil {
			continue
		}
		subject := ev.Peer.String()
		detail := fmt.Sprintf("%s connection to %s outside network.egress", ev.Proto, subject)
		if ev.Direction == egress.Ingress {
			subject = fmt.Sprintf("%d", ev.Local.Port())
			detail = fmt.Sprintf("%s connection from %s to port %d outside network.listen", ev.Proto, ev.Peer, ev.Local.Port())
		}
		if prof.Mode == profiles.ModeLearn {
			d.learner.peer(prof, ev.Direction == egress.Ingress, ev.Peer, ev.Local)
			continue
		}
		d.enf.submit(c, finding.Finding{Source: finding.SourceNFLOG, Rule: alert.RuleNetwork, Subject: subject, Evidence: detail, KernelRefused: ev.Enforced})
	}
}

// startAudit reads the kernel's audit records on one socket: the
// SECCOMP records of the syscalls that learn-mode filters log, and
// Landlock's denials. The returned function restores the kernel's audit
// setting.
func (d *Daemon) startAudit(ctx context.Context) (restore func()) {
	restore, landlockOn := d.landlockAudit(ctx)
	o := audit.Options{SeccompBuf: 65536}
	if landlockOn {
		o.LandlockBuf = 4096
		d.resume = d.loadAuditResume()
		o.Domains = d.resume.prev.Domains
	}
	s, err := audit.Listen(ctx, o)
	if err != nil {
		d.log.Error("audit records unavailable: learn mode records no syscalls, Landlock denials are refused but not alerted", "error", err)
		if landlockOn {
			d.setLandlockUnreported("the audit multicast group cannot be joined: " + err.Error())
		}
		return restore
	}
	d.auditDropped = s.Dropped
	go func() {
		for r := range s.Seccomp {
			d.learnAudit(r)
		}
	}()
	if s.Landlock != nil {
		go d.landlockLoop(s.Landlock)
		d.resume.keep(ctx, d.log, s.LastSerial, s.Domains)
		prev := restore
		restore = func() {
			if err := d.resume.save(); err != nil {
				d.log.Warn("saving the audit position", "error", err)
			}
			prev()
		}
	}
	return restore
}

func (d *Daemon) learnAudit(r audit.Record) {
	d.learnAuditTry(r, true)
}

// learnAuditTry attributes a record to its container. The record of a
// short-lived process can arrive before the fork event that ties it to
// its container: such a record is tried once more a moment later.
func (d *Daemon) learnAuditTry(r audit.Record, retry bool) {
	c := d.mon.containerOf(r.PID)
	if c == nil {
		if retry {
			time.AfterFunc(250*time.Millisecond, func() { d.learnAuditTry(r, false) })
			return
		}
		d.log.Debug("audit record of a process outside watched containers", "pid", r.PID, "syscall", r.Syscall, "exe", r.Exe)
		return
	}
	prof := c.profile()
	if prof == nil || prof.Mode != profiles.ModeLearn {
		return
	}
	name, err := syscalls.NameOf(r.Arch, r.Syscall)
	if err != nil {
		d.log.Debug("unnamed syscall in an audit record", "syscall", r.Syscall, "arch", r.Arch, "error", err)
		return
	}
	d.metrics.learnSyscalls.Inc()
	d.learner.syscall(prof, name)
}
