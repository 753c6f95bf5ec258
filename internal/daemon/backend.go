package daemon

import (
	"context"
	"fmt"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/starttrace"
	"github.com/confinehq/confine/internal/version"
	"github.com/confinehq/confine/profiles"
)

// backend implements api.Backend on the daemon.
type backend struct{ d *Daemon }

var _ api.Backend = backend{}

// Decide selects the profile of a container confine-runc is creating. The
// labels and image come from containerd (the spec only has annotations).
func (b backend) Decide(ctx context.Context, req api.DecideRequest) (*api.Decision, error) {
	d := b.d
	tr := starttrace.New("confined decide")
	tr.SetContainer(req.ID)
	defer tr.Write(d.cfg.RunDir)
	info, dinfo, err := d.createInputs(ctx, req.Namespace, req.ID)
	tr.Mark("containerd and Docker lookups (prefetched at /containers/create)")
	if err != nil {
		info = nil
		d.log.Warn("container not found in containerd at create; selecting on annotations only", "namespace", req.Namespace, "container", req.ID, "error", err)
	}
	t := identityOf(info, req.Annotations, dinfo).target()
	sel, err := d.profiles.Current().Select(t, d.cfg.DefaultProfile)
	tr.Mark("profile selection")
	if err != nil {
		return nil, fmt.Errorf("selecting a profile for %s/%s: %w", req.Namespace, req.ID, err)
	}
	dec := &api.Decision{Profile: sel.Profile, Digest: profiles.Digest(sel.Profile), Reason: sel.Reason}
	dec.ListenerPath = d.decisionFor(dec.Profile)
	tr.Mark("digest, listener")
	d.log.Info("profile decided", "namespace", req.Namespace, "container", req.ID, "profile", sel.Profile.Name, "mode", sel.Profile.Mode, "reason", sel.Reason, "image", t.Image)
	return dec, nil
}

// Hook registers a container at createRuntime (before user code runs) and
// forgets it at poststop.
func (b backend) Hook(ctx context.Context, req api.HookRequest) error {
	d := b.d
	ns := namespaceOf(req.State)
	switch req.Stage {
	case api.StageCreateRuntime:
		return d.registerFromHook(ctx, ns, req.State)
	case api.StagePoststop:
		d.unregisterKey(containerKey(ns, req.State.ID, hooks.QualifyingRoot(ns, req.State.Annotations[hooks.AnnotationRuncRoot])), "poststop hook")
		return nil
	}
	return fmt.Errorf("unknown hook stage %q", req.Stage)
}

func (b backend) Status(ctx context.Context) (*api.Status, error) {
	d := b.d
	st := &api.Status{
		Version:             version.Version,
		StartedAt:           d.started,
		ContainerdAddress:   d.cfg.ContainerdAddress,
		ContainerdConnected: d.watcher.Connected(),
		ContainerdVersion:   d.watcher.Version(),
		ContainersByMode:    map[string]int{},
		Profiles:            d.profiles.Current().Len(),
		ProfileErrors:       d.profiles.Errors(),
		ProfileSources:      d.fleet.status(),
	}
	d.mu.Lock()
	for _, c := range d.reg.all() {
		st.Containers++
		if p := c.profile(); p != nil {
			st.ContainersByMode[string(p.Mode)]++
		}
		st.Processes += c.Processes
	}
	d.mu.Unlock()
	st.Violations = int(d.stats.violations.Load())
	st.Kills = int(d.stats.kills.Load())
	st.ProcessEvents = d.mon.eventSource()
	st.Events, st.EventsReason = d.mon.eventsSource()
	st.Unprotected = d.unprotectedList()
	return st, nil
}

func (b backend) Containers(ctx context.Context) ([]api.Container, error) {
	var out []api.Container
	cs := b.d.reg.all()
	for _, c := range cs {
		b.d.mu.Lock()
		out = append(out, c.apiView())
		b.d.mu.Unlock()
	}
	for i := range out {
		b.d.capabilitiesOf(cs[i], &out[i])
	}
	return out, nil
}

func (b backend) Reload(ctx context.Context) ([]string, error) {
	errs := b.d.reload("API request")
	// systemctl reload (confinectl reload) also follows log rotation.
	b.d.alerts.reopen()
	return errs, nil
}
