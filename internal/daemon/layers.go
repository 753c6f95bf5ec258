package daemon

import (
	"fmt"
	"slices"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/profiles"
)

// This file keeps, per container, the layers that protect it (SPEC section
// 8): which are in force and which are missing, and why. A layer that a
// container's profile needs and that could not be applied is an alert
// (CONFINE_RULE layer_missing, or not_injected for a container that did not
// go through confine-runc) and shows in `confinectl ps` and `status`:
// nobody may believe a container is protected when it is not.
//
// Each layer reports itself: layerOn when it is in force, layerMissing
// (with the reason) when the profile needs it and it could not be applied.
// Layers a profile does not need are not listed.

// layerOrder is the order layers are shown in.
var layerOrder = []string{alert.LayerSeccomp, alert.LayerLandlock, alert.LayerFanotify, alert.LayerSecrets, alert.LayerNftables, alert.LayerEvents}

// recordLayer records l on c (d.mu held) and reports whether it changed.
func recordLayer(c *container, l api.Layer) bool {
	for i := range c.Layers {
		if c.Layers[i].Name == l.Name {
			if c.Layers[i] == l {
				return false
			}
			c.Layers[i] = l
			return true
		}
	}
	c.Layers = append(c.Layers, l)
	slices.SortStableFunc(c.Layers, func(a, b api.Layer) int {
		return slices.Index(layerOrder, a.Name) - slices.Index(layerOrder, b.Name)
	})
	return true
}

// layerOn records a layer in force; detail qualifies it ("ABI 7").
func (d *Daemon) layerOn(c *container, name, detail string) {
	d.mu.Lock()
	recordLayer(c, api.Layer{Name: name, InForce: true, Detail: detail})
	d.mu.Unlock()
}

// layerMissing records a layer the container's profile needs but that
// could not be applied, and raises a layer_missing alert (once per change)
// unless the profile only learns (the secret watch, which reports in every
// mode, alerts in learn mode too).
func (d *Daemon) layerMissing(c *container, name, reason string) {
	d.unprotected(c, alert.RuleLayerMissing, name, reason)
}

// layerMissingQuiet records a missing layer without a per-container alert:
// for what is missing host-wide and alerted once (the events source).
func (d *Daemon) layerMissingQuiet(c *container, name, reason string) {
	d.mu.Lock()
	recordLayer(c, api.Layer{Name: name, Reason: reason})
	d.mu.Unlock()
}

func (d *Daemon) unprotected(c *container, rule, layer, reason string) {
	d.mu.Lock()
	changed := recordLayer(c, api.Layer{Name: layer, Reason: reason})
	d.mu.Unlock()
	prof := c.profile()
	if !changed || prof == nil || (prof.Mode == profiles.ModeLearn && layer != alert.LayerSecrets) {
		return
	}
	a := containerAlert(&d.mu, c, prof)
	a.Event, a.Rule, a.Layer, a.Action = alert.EventUnprotected, rule, layer, alert.ActionAlerted
	a.Priority = alert.PriWarning
	if prof.Mode == profiles.ModeEnforce {
		a.Priority = alert.PriErr
	}
	what := "without its " + layer + " layer"
	if rule == alert.RuleNotInjected {
		what = "without confine's injection (seccomp filter, hooks)"
	}
	a.Message = fmt.Sprintf("confine: container %s/%s runs %s although profile %s (%s) needs it: %s", c.Namespace, c.ID, what, prof.Name, prof.Mode, reason)
	a.Extra = map[string]string{"REASON": reason}
	d.alerts.emit(a)
}

// initialLayers records, at registration, what is known at once: whether
// confine-runc injected the container (seccomp filter and hooks) and how
// confined learns of its processes.
func (d *Daemon) initialLayers(c *container) {
	d.mu.Lock()
	injected := c.Injected
	d.mu.Unlock()
	prof := c.profile()
	switch {
	case injected && prof != nil && prof.Mode == profiles.ModeLearn:
		d.layerOn(c, alert.LayerSeccomp, "logging filter (learn)")
	case injected && prof != nil && !prof.Seccomp.IsZero():
		d.layerOn(c, alert.LayerSeccomp, "")
	case injected:
		// A profile without a seccomp section gets no filter: the layer
		// is not needed.
	default:
		d.unprotected(c, alert.RuleNotInjected, alert.LayerSeccomp, "not started through confine-runc: no seccomp filter, no hooks (see confinectl setup)")
	}
	d.landlockLayer(c)
	if src, reason := d.mon.eventsSource(); reason == "" {
		d.layerOn(c, alert.LayerEvents, src)
	} else {
		d.layerMissingQuiet(c, alert.LayerEvents, reason)
	}
}

// eventsSource says how new processes are seen: the proc connector, or
// rescans only with the reason.
func (m *monitor) eventsSource() (source, reason string) {
	if s := m.eventSource(); s != "" && s != "none" {
		return s, ""
	}
	if m.conn != nil {
		return "proc connector", ""
	}
	return "rescans", fmt.Sprintf("%s; new processes are seen by /proc rescans every %s", m.eventsErr, m.cfg.RescanInterval.Duration)
}

// alertEventsSource reports once, at start, that the proc connector is not
// available: detection then relies on rescans (slower, and a short-lived
// process can be missed).
func (d *Daemon) alertEventsSource() {
	_, reason := d.mon.eventsSource()
	if reason == "" {
		return
	}
	d.alerts.emit(&alert.Alert{
		Event: alert.EventUnprotected, Rule: alert.RuleLayerMissing, Layer: alert.LayerEvents,
		Action: alert.ActionAlerted, Priority: alert.PriWarning,
		Message: "confine: process events unavailable for every container: " + reason,
		Extra:   map[string]string{"REASON": reason},
	})
}

// unprotectedList is what status lists: every container with a missing
// layer other than the host-wide events source (status reports that on
// its own line).
func (d *Daemon) unprotectedList() []string {
	var out []string
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.reg.all() {
		for _, l := range c.Layers {
			if !l.InForce && l.Name != alert.LayerEvents {
				out = append(out, fmt.Sprintf("%s: %s missing: %s", c.key(), l.Name, l.Reason))
			}
		}
	}
	return out
}
