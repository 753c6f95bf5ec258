package hooks

import (
	"errors"

	"github.com/confinehq/confine/internal/landlock/fromprofile"
	"github.com/confinehq/confine/profiles"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Injection is everything confine-runc puts into one container's spec.
type Injection struct {
	// Profile is the decided profile, its mode override applied.
	Profile *profiles.Profile
	// Digest identifies the profile version (confine.digest).
	Digest string
	// Seccomp is the profile's filter for the host architecture (see
	// package seccomp); nil when the profile has no seccomp section, in
	// which case the spec keeps what it has.
	Seccomp *specs.LinuxSeccomp
	// ListenerPath is confined's seccomp notify socket for this
	// container; only set when confined said so.
	ListenerPath string
	// HookPath is the confine-hook binary; "" injects no hooks.
	HookPath string
	// HookEnv is the environment the hooks run with.
	HookEnv []string
	// Decision is "confined" or "local" (fail_mode open): written as the
	// confine.decision annotation.
	Decision string
	// RuncRoot is runc's --root (absolute): the confine.runc.root
	// annotation, so confined tells containers of two roots apart.
	RuncRoot string
	// InitPath is confine-init on the host; "" injects no Landlock
	// ruleset (the caller found no Landlock in the kernel, or the profile
	// needs none: fromprofile.NeedsInit).
	InitPath string
}

// Modifiers returns the modifiers for the injection, in the order they
// apply: seccomp, no-new-privileges, capabilities, file hardening, hooks,
// annotations.
//
// Mode policy: the seccomp filter is what package seccomp generated for
// the profile's mode. no-new-privileges, the capability drop and
// masked/read-only paths deny
// access outright, so they are injected in enforce mode only; in learn and
// monitor modes nothing may be denied, and the monitor reports instead.
// Hooks and annotations go in for every mode.
func (in Injection) Modifiers() (Modifiers, error) {
	p := in.Profile
	if p == nil {
		return nil, errors.New("building the injection: no profile")
	}
	enforce := p.Mode == profiles.ModeEnforce
	var ms Modifiers
	ms = append(ms, Seccomp{Filter: in.Seccomp, ListenerPath: in.ListenerPath})
	if enforce && p.Privileges.ForcesNoNewPrivileges() {
		ms = append(ms, NoNewPrivileges{})
	}
	if enforce && p.Privileges.Capabilities != nil {
		// Least privilege at create: what the profile does not list is
		// gone from every set, so the kernel refuses it (the monitor
		// still reports effective capabilities beyond the list).
		ms = append(ms, DropCapabilities{Keep: p.Privileges.Capabilities})
	}
	if enforce {
		ms = append(ms, FileHardening{Deny: p.Files.Deny, ReadOnly: p.Files.ReadOnly})
	}
	if enforce && in.InitPath != "" && fromprofile.NeedsInit(p) {
		ms = append(ms, Landlock{InitPath: in.InitPath, Ruleset: fromprofile.Ruleset(p)})
	}
	if in.HookPath != "" {
		ms = append(ms, Hooks{Path: in.HookPath, Env: in.HookEnv})
	}
	ann := Annotations{AnnotationProfile: p.Name, AnnotationMode: string(p.Mode)}
	if in.Decision != "" {
		ann[profiles.AnnotationDecision] = in.Decision
	}
	if in.Digest != "" {
		ann[AnnotationDigest] = in.Digest
	}
	if in.RuncRoot != "" {
		ann[AnnotationRuncRoot] = in.RuncRoot
	}
	ms = append(ms, ann)
	return ms, nil
}
