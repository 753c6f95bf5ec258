// Package fromprofile turns a confine profile into the Landlock ruleset
// confine-init applies (package internal/landlock describes the rights per
// class). It is apart from internal/landlock so that confine-init, which
// only decodes and applies a ruleset, links neither profiles nor YAML: it
// starts with every container whose profile restricts files.
package fromprofile

import (
	"slices"

	"github.com/confinehq/confine/internal/landlock"
	"github.com/confinehq/confine/profiles"
)

// Ruleset builds the Landlock ruleset for p's file, exec and network rules.
func Ruleset(p *profiles.Profile) *landlock.Ruleset {
	r := &landlock.Ruleset{}
	if p.Exec.Allow != nil {
		r.RestrictExec, r.Execute = true, landlock.Hierarchies(p.Exec.Allow)
	}
	if p.Files.Read != nil {
		r.RestrictRead, r.Read = true, landlock.Hierarchies(p.Files.Read)
	}
	if p.Files.Write != nil {
		r.RestrictWrite, r.Write = true, landlock.Hierarchies(p.Files.Write)
	}
	if p.Network.Listen != nil {
		r.RestrictBind = true
		for _, port := range p.Network.Listen {
			if port > 0 && port <= 65535 && !slices.Contains(r.Bind, uint16(port)) {
				r.Bind = append(r.Bind, uint16(port))
			}
		}
		slices.Sort(r.Bind)
	}
	if p.Network.Egress != nil {
		var ports []uint16
		anyPort := false
		for _, e := range p.Network.Egress {
			eg, err := profiles.ParseEgress(e)
			if err != nil {
				continue
			}
			if eg.Port == 0 {
				anyPort = true
				break
			}
			if !slices.Contains(ports, eg.Port) {
				ports = append(ports, eg.Port)
			}
		}
		if !anyPort {
			slices.Sort(ports)
			r.RestrictConnect, r.Connect = true, ports
		}
	}
	return r
}

// NeedsInit reports whether confine-runc puts confine-init in front of
// p's containers: enforce mode (monitor and learn never block) with
// exec or file allowlists.
func NeedsInit(p *profiles.Profile) bool {
	return p != nil && p.Mode == profiles.ModeEnforce && Ruleset(p).RestrictsFiles()
}
