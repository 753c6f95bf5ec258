package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/internal/landlock"
	"github.com/confinehq/confine/internal/landlock/fromprofile"
	"github.com/confinehq/confine/monitor/audit"
	"github.com/confinehq/confine/profiles"
	"golang.org/x/sys/unix"
)

// LayerLandlock names the Landlock layer in alerts (CONFINE_LAYER).
const LayerLandlock = "landlock"

// landlockAudit prepares the audit reader for Landlock's denials (audit
// record type 1423, Linux 6.15 / ABI 7 and later), which become "denied"
// findings of the container whose confine-init created the domain; it
// says whether they can be reported.
//
// The kernel sends these records only while audit is enabled. When it is
// off (the default without auditd), confined turns it on for as long as
// it runs and turns it off again when it stops (the returned function);
// a setting locked by auditd (enabled=2) or already on is left alone.
// While audit is on without auditd the kernel also prints audit records
// to its log, rate-limited.
func (d *Daemon) landlockAudit(ctx context.Context) (restore func(), report bool) {
	restore = func() {}
	abi := landlock.ABI()
	if abi < 7 {
		if abi > 0 {
			d.log.Warn("Landlock refuses file access here but cannot report it before ABI 7: denials are not alerted", "landlock_abi", abi)
			d.setLandlockUnreported(fmt.Sprintf("Landlock ABI %d logs no denials (needs 7)", abi))
		} else {
			// No Landlock, or a seccomp filter around confined refuses
			// landlock_create_ruleset: containers that got Landlock from
			// confine-runc say their denials are not reported.
			d.setLandlockUnreported("confined cannot query Landlock (no Landlock in the kernel, or a seccomp filter around confined)")
		}
		return restore, false
	}
	undo, err := audit.EnableAudit()
	if err != nil {
		d.log.Error("cannot enable kernel audit: Landlock denials will not be alerted (the kernel still refuses them)", "error", err)
		why := "kernel audit cannot be enabled: " + err.Error()
		if errors.Is(err, unix.EPERM) {
			// The kernel answers audit requests only from the initial
			// PID namespace (audit_netlink_ok; its records name host
			// PIDs), and changes need CAP_AUDIT_CONTROL.
			why = "the kernel refuses audit to confined (a nested PID namespace, or no CAP_AUDIT_CONTROL): " + err.Error()
		}
		d.setLandlockUnreported(why)
		return restore, true
	}
	go d.keepAuditOn(ctx)
	return func() {
		if err := undo(); err != nil {
			d.log.Warn("restoring the kernel's audit setting", "error", err)
		}
	}, true
}

// setLandlockUnreported records why Landlock's denials cannot be reported
// on this host; confinectl ps shows it on every Landlock layer.
func (d *Daemon) setLandlockUnreported(why string) {
	d.landlockUnreported.Store(&why)
}

func (d *Daemon) landlockUnreportedWhy() string {
	if p := d.landlockUnreported.Load(); p != nil {
		return *p
	}
	return ""
}

// landlockLayer records the Landlock layer of an enforce container whose
// profile restricts files or execs, from what confine-runc recorded in its
// bundle: in force ("ABI 7"; ", denials unreported: why" when confined
// cannot see the kernel's denials), or missing with the reason.
func (d *Daemon) landlockLayer(c *container) {
	p := c.profile()
	d.mu.Lock()
	ann, injected := c.Annotations, c.Injected
	d.mu.Unlock()
	if p == nil || p.Mode != profiles.ModeEnforce || !fromprofile.Ruleset(p).RestrictsFiles() || !injected {
		return
	}
	l := ann[landlock.AnnotationFilesLayer]
	switch {
	case strings.HasPrefix(l, "landlock "):
		detail := strings.TrimPrefix(l, "landlock ")
		if why := d.landlockUnreportedWhy(); why != "" {
			detail += ", denials unreported: " + why
		}
		d.layerOn(c, alert.LayerLandlock, detail)
	case strings.HasPrefix(l, "none: landlock = false"):
		// The operator's choice: the fanotify guard is the file layer.
	case strings.HasPrefix(l, "none: kernel has no landlock"):
		// Shown, not alerted per container: the fanotify guard is the
		// file layer on such kernels.
		d.layerMissingQuiet(c, alert.LayerLandlock, strings.TrimPrefix(l, "none: ")+" (the fanotify guard enforces files)")
	case strings.HasPrefix(l, "none: "):
		d.layerMissing(c, alert.LayerLandlock, strings.TrimPrefix(l, "none: "))
	}
}

// landlockLoop turns Landlock denials into findings.
func (d *Daemon) landlockLoop(recs <-chan audit.LandlockDenial) {
	for r := range recs {
		d.log.Debug("landlock denial", "domain", r.Domain, "pid", r.PID, "exe", r.Exe, "blockers", strings.Join(r.Blockers, ","), "path", r.Path)
		d.landlockDenial(r, 0)
	}
}

// domainOwners remembers the exec processes containerd started: with
// confine-init in front, each one creates a Landlock domain, and its
// denials name it as the domain's creator, often after it has exited
// (a `docker exec` session that failed). A container's first process is
// found through the registry and /proc.
type domainOwners struct {
	mu   sync.Mutex
	pids map[int]domainOwner
}

type domainOwner struct {
	c  *container
	at time.Time
}

// domainOwnerTTL bounds how long an exec PID stays attributed.
const domainOwnerTTL = 10 * time.Minute

func (o *domainOwners) add(pid int, c *container) {
	if pid <= 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pids == nil {
		o.pids = map[int]domainOwner{}
	}
	now := time.Now()
	if len(o.pids) > 4096 {
		for p, e := range o.pids {
			if now.Sub(e.at) > domainOwnerTTL {
				delete(o.pids, p)
			}
		}
	}
	o.pids[pid] = domainOwner{c: c, at: now}
}

func (o *domainOwners) get(pid int) *container {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e, ok := o.pids[pid]; ok && time.Since(e.at) < domainOwnerTTL {
		return e.c
	}
	return nil
}

// auditCheckEvery is how often confined checks that audit is still on.
const auditCheckEvery = time.Second

// keepAuditOn turns audit back on when something else turned it off while
// confined runs: systemd-journald does at every start-up with its default
// Audit=no (Debian 12's systemd 252), and so does another confined that
// stops. Denials in between are refused but not reported; the warning
// says so.
func (d *Daemon) keepAuditOn(ctx context.Context) {
	t := time.NewTicker(auditCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		on, err := audit.AuditEnabled()
		if err != nil || on != 0 {
			continue
		}
		if err := audit.SetAuditEnabled(1); err != nil {
			d.log.Error("kernel audit was turned off and cannot be turned back on: Landlock denials are not reported", "error", err)
			continue
		}
		d.log.Warn("kernel audit was turned off by someone else (systemd-journald with Audit=no at its start?); turned back on: Landlock denials of the last second may be unreported")
	}
}

// landlockDenial attributes one denial to its container through the
// process that created the domain, and reports it as denied by the kernel.
// The alert's PID is that process: the container's first process or an
// exec session, the offender or its ancestor.
func (d *Daemon) landlockDenial(r audit.LandlockDenial, tries int) {
	var c *container
	if r.PID > 0 {
		if c = d.domains.get(r.PID); c == nil {
			c = d.mon.containerOf(r.PID)
		}
	}
	if c == nil {
		// The exec-started event may not have arrived yet.
		if tries < 6 && r.PID > 0 {
			time.AfterFunc(time.Duration(tries+1)*300*time.Millisecond, func() { d.landlockDenial(r, tries+1) })
			return
		}
		d.log.Warn("Landlock denial outside watched containers", "domain", r.Domain, "pid", r.PID, "exe", r.Exe, "blockers", strings.Join(r.Blockers, ","), "path", r.Path)
		return
	}
	if c.profile() == nil {
		return
	}
	v, ok := landlockViolation(r)
	if !ok {
		return
	}
	snap := &snapshot{PID: r.PID, Exe: r.Exe}
	if v.Rule == alert.RuleExec {
		snap.Exe = r.Path
	}
	f := fromViolation(finding.SourceAudit, snap, v)
	f.KernelRefused = true
	d.enf.submit(c, f)
}

// landlockViolation turns a denial into a finding.
func landlockViolation(r audit.LandlockDenial) (violationT, bool) {
	has := func(prefix string) bool {
		for _, b := range r.Blockers {
			if strings.HasPrefix(b, prefix) {
				return true
			}
		}
		return false
	}
	blockers := strings.Join(r.Blockers, ",")
	v := violationT{Layer: LayerLandlock, Subject: r.Path}
	switch {
	case has("fs.execute"):
		v.Rule, v.Detail = alert.RuleExec, "execution refused by Landlock (not in exec.allow)"
	case has("fs.make_char") || has("fs.make_block"):
		v.Rule, v.Detail = alert.RuleFile, "device node creation refused by Landlock"
	case has("fs.read_file") || has("fs.read_dir"):
		if !has("fs.write") && !has("fs.make") && !has("fs.remove") && !has("fs.truncate") {
			v.Rule, v.Detail = alert.RuleFile, "read refused by Landlock (outside files.read)"
			break
		}
		fallthrough
	case has("fs."):
		v.Rule, v.Detail = alert.RuleFile, fmt.Sprintf("write refused by Landlock (outside files.write; %s)", blockers)
	case has("net.bind_tcp"):
		v.Rule, v.Subject = alert.RuleNetwork, strconv.Itoa(r.Port)
		v.Detail = fmt.Sprintf("TCP bind to port %d refused by Landlock (not in network.listen)", r.Port)
	case has("net.connect_tcp"):
		v.Rule, v.Subject = alert.RuleNetwork, strconv.Itoa(r.Port)
		if r.Addr != "" {
			v.Subject = net.JoinHostPort(r.Addr, v.Subject)
		}
		v.Detail = fmt.Sprintf("TCP connect to port %d refused by Landlock (not in network.egress)", r.Port)
	default:
		return v, false
	}
	return v, true
}

// filesLayerNote is the line confinectl ps shows about who enforces a
// container's file and exec rules, from what confine-runc recorded in
// its bundle.
func filesLayerNote(p *profiles.Profile, ann map[string]string) string {
	if p == nil || p.Mode != profiles.ModeEnforce || !fromprofile.Ruleset(p).RestrictsFiles() {
		return ""
	}
	if l := ann[landlock.AnnotationFilesLayer]; l != "" {
		return "files: " + l
	}
	return ""
}
