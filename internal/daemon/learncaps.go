package daemon

import (
	"math/bits"

	"github.com/confinehq/confine/profiles"
)

// learnCaps adds the capabilities a learn-mode container exercised (from
// the bpf cap_capable recorder) to its profile's learning record.
func (d *Daemon) learnCaps(c *container, used uint64) {
	if used == 0 {
		return
	}
	d.mu.Lock()
	p := c.Profile
	d.mu.Unlock()
	if p == nil || p.Mode != profiles.ModeLearn {
		return
	}
	d.learner.mu.Lock()
	defer d.learner.mu.Unlock()
	e := d.learner.entry(p)
	if e.capsUsed|used != e.capsUsed {
		e.capsUsed |= used
		e.dirty = true
	}
}

// collectLearnedCaps reads the recorder for every tracked learn-mode
// container (before the learned profiles are written).
func (d *Daemon) collectLearnedCaps() {
	for _, c := range d.reg.all() {
		if caps, ok := d.mon.usedCaps(c); ok {
			d.learnCaps(c, caps.Used)
		}
	}
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
