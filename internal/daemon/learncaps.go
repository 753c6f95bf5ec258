package daemon

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
)

// learnCaps adds the capabilities a learn-mode container exercised (from
// the bpf cap_capable recorder) to its profile's learning record. Only a
// container the recorder watched from its start counts as recorded; the
// others are learned from what their processes held (learner.observe).
func (d *Daemon) learnCaps(c *container, used uint64, fromStart bool) {
	if !fromStart {
		return
	}
	p := c.profile()
	if p == nil || p.Mode != profiles.ModeLearn {
		return
	}
	d.learner.mu.Lock()
	defer d.learner.mu.Unlock()
	e := d.learner.entry(p)
	if e.rec.CapabilitiesUsed(used) {
		e.dirty = true
	}
}

// collectLearnedCaps reads the recorder for every tracked learn-mode
// container (before the learned profiles are written).
func (d *Daemon) collectLearnedCaps() {
	for _, c := range d.reg.all() {
		if caps, fromStart, ok := d.mon.usedCaps(c); ok {
			d.learnCaps(c, caps.Used, fromStart)
		}
	}
}

// capabilitiesNote is the learned profile's header line about
// privileges.capabilities: used, or held, and why.
func capabilitiesNote(sum rules.Summary) string {
	caps, exact := sum.LearnedCapabilities()
	list := "none"
	if len(caps) > 0 {
		list = strings.Join(caps, ",")
	}
	switch {
	case exact:
		return fmt.Sprintf("capabilities: %s: the ones the workload used (bpf cap_capable recorder, from each container's start); it held %s", list, capsOrNone(sum.Capabilities))
	case !sum.CapsRecorded:
		return fmt.Sprintf("capabilities: WARNING: %s are the ones the workload HELD, not used: no capability recorder watched it (process events not from bpf, or containers found running); review before enforcing", list)
	default:
		return fmt.Sprintf("capabilities: WARNING: %s: used %s where the bpf recorder watched, plus %s HELD by containers it did not watch from their start (process events not from bpf, or found running); review before enforcing",
			list, capsOrNone(sum.CapsUsed), capsOrNone(sum.CapsHeldUnwatched))
	}
}

func capsOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ",")
}

// capNames lists the capabilities of a mask by profile name, lowest first.
func capNames(mask uint64) []string {
	var out []string
	for mask != 0 {
		bit := bits.TrailingZeros64(mask)
		out = append(out, profiles.CapabilityName(bit))
		mask &^= 1 << bit
	}
	return out
}

// capMask is capNames reversed; unknown names are ignored.
func capMask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		if bit, ok := profiles.CapabilityBit(n); ok && bit < 64 {
			m |= 1 << bit
		}
	}
	return m
}
