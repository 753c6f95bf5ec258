package daemon

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/landlock"
	"github.com/confinehq/confine/monitor/audit"
	"github.com/confinehq/confine/profiles"
)

// LayerLandlock names the Landlock layer in alerts (CONFINE_LAYER).
const LayerLandlock = "landlock"

// startLandlock follows Landlock's denials (audit record type 1423, Linux
// 6.15 / ABI 7 and later) and turns them into "denied" findings of the
// container whose confine-init created the domain.
//
// The kernel sends these records only while audit is enabled. When it is
// off (the default without auditd), confined turns it on for as long as
// it runs and turns it off again when it stops (the returned function);
// a setting locked by auditd (enabled=2) or already on is left alone.
// While audit is on without auditd the kernel also prints audit records
// to its log, rate-limited.
func (d *Daemon) startLandlock(ctx context.Context) (restore func()) {
	restore = func() {}
	abi := landlock.ABI()
	if abi < 7 {
		if abi > 0 {
			d.log.Warn("Landlock refuses file access here but cannot report it before ABI 7: denials are not alerted", "landlock_abi", abi)
		}
		return restore
	}
	undo, err := audit.EnableAudit()
	if err != nil {
		d.log.Error("cannot enable kernel audit: Landlock denials will not be alerted (the kernel still refuses them)", "error", err)
	} else {
		restore = func() {
			if err := undo(); err != nil {
				d.log.Warn("restoring the kernel's audit setting", "error", err)
			}
		}
	}
	recs, err := audit.ListenLandlock(ctx, 4096)
	if err != nil {
		d.log.Error("Landlock denials unavailable: they are refused but not alerted", "error", err)
		return restore
	}
	go func() {
		for r := range recs {
			d.landlockDenial(r, true)
		}
	}()
	return restore
}

// landlockDenial attributes one denial to its container through the
// process that created the domain, and reports it as denied by the kernel.
func (d *Daemon) landlockDenial(r audit.LandlockDenial, retry bool) {
	var c *container
	if r.PID > 0 {
		c = d.mon.containerOf(r.PID)
	}
	if c == nil {
		if retry && r.PID > 0 {
			time.AfterFunc(250*time.Millisecond, func() { d.landlockDenial(r, false) })
			return
		}
		d.log.Warn("Landlock denial outside watched containers", "domain", r.Domain, "pid", r.PID, "exe", r.Exe, "blockers", strings.Join(r.Blockers, ","), "path", r.Path)
		return
	}
	d.mu.Lock()
	prof := c.Profile
	d.mu.Unlock()
	if prof == nil {
		return
	}
	v, ok := landlockViolation(r)
	if !ok {
		return
	}
	var snap *snapshot
	if v.Rule == alert.RuleExec {
		snap = &snapshot{Exe: r.Path}
	}
	d.denied(c, snap, v)
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
	if p == nil || p.Mode != profiles.ModeEnforce || !landlock.FromProfile(p).RestrictsFiles() {
		return ""
	}
	if l := ann[landlock.AnnotationFilesLayer]; l != "" {
		return "files: " + l
	}
	return ""
}
