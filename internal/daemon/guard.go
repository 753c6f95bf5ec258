package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/monitor/fanotify"
	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// needsGuard reports whether a profile has rules fanotify can enforce
// before they happen: exec.allow, files.deny, files.readOnly.
func needsGuard(p *profiles.Profile) bool {
	if p == nil || p.Mode == profiles.ModeLearn {
		return false
	}
	return p.Exec.Allow != nil || p.Files.Deny != nil || p.Files.ReadOnly != nil
}

// startGuard puts a container's rootfs and mounts behind fanotify
// permission events, at createRuntime (before user code runs): a forbidden
// exec or open gets EPERM before it happens. The same compiled rules as
// the /proc monitor decide.
func (d *Daemon) startGuard(c *container, bundle string) {
	dec := c.decision()
	if dec == nil || !needsGuard(dec.Profile) {
		return
	}
	p, ch := dec.Profile, dec.checker
	d.mu.Lock()
	pid := c.Pid
	d.mu.Unlock()
	if bundle == "" {
		d.layerMissing(c, alert.LayerFanotify, "the container's bundle (rootfs and mounts) was not found; the /proc monitor still enforces after the fact")
		return
	}
	var mounts []string
	// The spec runc read: confine-runc's private copy, else the bundle's.
	specPath := filepath.Join(bundle, "config.json")
	if cp, _ := hooks.FindCopy(d.cfg.RunDir, bundle, c.ID); cp != "" {
		specPath = cp
	}
	if spec, err := readSpec(specPath); err == nil {
		mounts = fanotify.MountsFromSpec(spec)
	}
	g, err := fanotify.NewGuard(fanotify.GuardConfig{
		ID:         c.key(),
		Pid:        pid,
		RootfsPath: filepath.Join(bundle, "rootfs"),
		Mounts:     mounts,
		Decide:     fanotify.RulesDecider(ch.set, p.Mode),
		Report:     func(r fanotify.Report) { d.guardReport(c, r) },
		FailOpen:   d.cfg.FailMode == config.FailOpen,
		Log:        d.log,
		Proc:       d.mon.fs,
	})
	if err != nil {
		d.log.Error("fanotify guard not started; the /proc monitor still enforces after the fact", "namespace", c.Namespace, "container", c.ID, "error", err)
		d.note(c, "no fanotify guard: "+err.Error())
		d.layerMissing(c, alert.LayerFanotify, err.Error()+"; the /proc monitor still enforces after the fact")
		return
	}
	if !publish(&d.mu, c, &c.guard, g) {
		return // forgotten while the guard started
	}
	// A reload between reading the decision and publishing the guard.
	if now := c.decision(); now != dec {
		refreshGuard(g, now)
	}
	d.layerOn(c, alert.LayerFanotify, fmt.Sprintf("%s mark, %d mounts", g.RootMark(), len(g.Marked())))
	d.log.Info("fanotify guard started", "namespace", c.Namespace, "container", c.ID, "marks", len(g.Marked()))
}

// refreshGuard follows a profile reload: new rules, an empty cache.
func refreshGuard(g *fanotify.Guard, dec *decision) {
	if g == nil || dec == nil {
		return
	}
	g.SetDecide(fanotify.RulesDecider(dec.checker.set, dec.Profile.Mode))
	g.InvalidateCache()
}

// guardReport hands a guard's decision to the enforcer: a denial is
// "denied" (and kills with onViolation: kill), an allowed violation in
// monitor mode is a violation.
func (d *Daemon) guardReport(c *container, r fanotify.Report) {
	if r.Verdict.Violation == nil {
		if r.Err != nil {
			d.log.Warn("fanotify answered without a decision", "namespace", c.Namespace, "container", c.ID, "source", r.Source.String(), "error", r.Err, "path", r.Event.Path)
		}
		return
	}
	snap := &snapshot{PID: r.Event.PID, Exe: r.Event.Exe}
	if r.Verdict.Violation.Rule == rules.RuleExec {
		snap.Exe = r.Event.Path
	}
	f := fromViolation(finding.SourceFanotify, snap, *r.Verdict.Violation)
	f.KernelRefused = !r.Verdict.Allow
	d.enf.submit(c, f)
}

func readSpec(path string) (*specs.Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var s specs.Spec
	if err := json.NewDecoder(io.LimitReader(f, hooks.MaxSpecBytes)).Decode(&s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &s, nil
}
