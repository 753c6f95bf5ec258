package egress

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/confinehq/confine/profiles"
)

// spec is a profile's network section, parsed: what Rules keeps between
// installs (DNS names are resolved into a plan at each install).
type spec struct {
	// egress is nil when network.egress is absent (unrestricted).
	egress []profiles.Egress
	// listen is nil when network.listen is absent (unrestricted).
	listen []uint16
	// enforce: reject what the profile does not allow; otherwise (monitor
	// and learn modes) only count and report it.
	enforce bool
}

// parseSpec reads the network section of p in mode.
func parseSpec(p *profiles.Profile, mode profiles.Mode) (spec, error) {
	var s spec
	if !mode.Valid() {
		return spec{}, fmt.Errorf("profile %q: mode %q is not one of learn, monitor, enforce", p.Name, mode)
	}
	s.enforce = mode == profiles.ModeEnforce
	if p.Network.Egress != nil {
		s.egress = make([]profiles.Egress, 0, len(p.Network.Egress))
		for i, e := range p.Network.Egress {
			eg, err := profiles.ParseEgress(e)
			if err != nil {
				return spec{}, fmt.Errorf("profile %q: network.egress[%d]: %w", p.Name, i, err)
			}
			s.egress = append(s.egress, eg)
		}
	}
	if p.Network.Listen != nil {
		s.listen = make([]uint16, 0, len(p.Network.Listen))
		for i, port := range p.Network.Listen {
			if port < 1 || port > 65535 {
				return spec{}, fmt.Errorf("profile %q: network.listen[%d]: port %d is outside 1-65535", p.Name, i, port)
			}
			if !slices.Contains(s.listen, uint16(port)) {
				s.listen = append(s.listen, uint16(port))
			}
		}
		slices.Sort(s.listen)
	}
	return s, nil
}

// hosts lists the DNS names among the egress entries, sorted.
func (s spec) hosts() []string {
	var out []string
	for _, e := range s.egress {
		if e.Host != "" && e.Host != "*" && !slices.Contains(out, e.Host) {
			out = append(out, e.Host)
		}
	}
	sort.Strings(out)
	return out
}

// dest is one accepted egress destination. An invalid prefix means any
// address; port 0 means any port and any protocol, otherwise TCP and UDP to
// that port.
type dest struct {
	prefix netip.Prefix
	port   uint16
}

// plan is exactly what goes into the kernel: a pure function of the spec
// and the current DNS answers.
type plan struct {
	// restrictEgress and restrictListen say whether the output and input
	// chains filter at all.
	restrictEgress, restrictListen bool
	egress                         []dest
	listen                         []uint16
	enforce                        bool
}

// empty reports a plan that needs no table.
func (p plan) empty() bool { return !p.restrictEgress && !p.restrictListen }

// makePlan expands the spec with resolved addresses for DNS names. A name
// missing from addrs admits nothing.
func makePlan(s spec, addrs map[string][]netip.Addr) plan {
	p := plan{
		restrictEgress: s.egress != nil,
		restrictListen: s.listen != nil,
		listen:         slices.Clone(s.listen),
		enforce:        s.enforce,
	}
	add := func(d dest) {
		if !slices.Contains(p.egress, d) {
			p.egress = append(p.egress, d)
		}
	}
	for _, e := range s.egress {
		switch {
		case e.Host == "*":
			add(dest{port: e.Port})
		case e.Host != "":
			for _, a := range addrs[e.Host] {
				a = a.Unmap()
				add(dest{prefix: netip.PrefixFrom(a, a.BitLen()), port: e.Port})
			}
		default:
			add(dest{prefix: unmapPrefix(e.Prefix), port: e.Port})
		}
	}
	return p
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) into
// the IPv4 prefix it means: packets carry IPv4 headers.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
}
