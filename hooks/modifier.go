package hooks

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/glob"
	"github.com/confinehq/confine/profiles"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Modifier edits an OCI spec. Each kind of injection is one Modifier.
type Modifier interface {
	Modify(*specs.Spec) error
}

// ModifierFunc adapts a function to Modifier.
type ModifierFunc func(*specs.Spec) error

// Modify calls f.
func (f ModifierFunc) Modify(s *specs.Spec) error { return f(s) }

// Modifiers applies its members in order, skipping nil entries and
// stopping at the first error.
type Modifiers []Modifier

// Modify applies every modifier.
func (ms Modifiers) Modify(s *specs.Spec) error {
	for _, m := range ms {
		if m == nil {
			continue
		}
		if err := m.Modify(s); err != nil {
			return err
		}
	}
	return nil
}

// Seccomp installs a profile's seccomp filter.
//
// Policy for a spec that already carries linux.seccomp (Docker puts its
// default profile there, ctr --seccomp containerd's): the profile's filter
// replaces it. Two OCI filters cannot be intersected into one without
// losing argument conditions and errno choices, and the profile is what
// the operator asked for; a profile that wants Docker's restrictions says
// "base: docker-default" (the embedded baseline does). A nil Filter (the
// profile has no seccomp section) keeps whatever the spec has.
type Seccomp struct {
	Filter *specs.LinuxSeccomp
	// ListenerPath, when set, is the seccomp notify socket confined
	// accepts on for this container; it overrides the filter's.
	ListenerPath string
}

// Modify sets spec.Linux.Seccomp.
func (m Seccomp) Modify(s *specs.Spec) error {
	if m.Filter == nil {
		return nil
	}
	f := *m.Filter
	if m.ListenerPath != "" {
		f.ListenerPath = m.ListenerPath
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.Seccomp = &f
	return nil
}

// DefaultHookTimeout bounds each injected hook (seconds): runc kills a hook
// that outlives it and fails the operation, instead of hanging.
const DefaultHookTimeout = 10

// HookArg0 is argv[0] of the injected hooks.
const HookArg0 = "confine-hook"

// Hooks injects confine-hook: "<hook> createRuntime" registers the init PID
// with confined before user code runs, "<hook> poststop" unregisters.
// Hooks already in the spec stay, in front of ours. A second pass adds
// nothing: a hook with the same path and stage is not added again.
type Hooks struct {
	// Path is the confine-hook binary (absolute).
	Path string
	// Env is the hooks' whole environment (runc gives a hook only the
	// env of its entry), e.g. CONFINE_CONFIG=/path.
	Env []string
	// Timeout in seconds; 0 means DefaultHookTimeout.
	Timeout int
}

// Modify appends the two hooks.
func (m Hooks) Modify(s *specs.Spec) error {
	if m.Path == "" || !path.IsAbs(m.Path) {
		return fmt.Errorf("injecting hooks: hook path %q is not absolute", m.Path)
	}
	timeout := m.Timeout
	if timeout == 0 {
		timeout = DefaultHookTimeout
	}
	if s.Hooks == nil {
		s.Hooks = &specs.Hooks{}
	}
	mk := func(stage string) specs.Hook {
		t := timeout
		return specs.Hook{Path: m.Path, Args: []string{HookArg0, stage}, Env: slices.Clone(m.Env), Timeout: &t}
	}
	s.Hooks.CreateRuntime = addHook(s.Hooks.CreateRuntime, mk(api.StageCreateRuntime))
	s.Hooks.Poststop = addHook(s.Hooks.Poststop, mk(api.StagePoststop))
	return nil
}

// addHook appends h unless a hook with its path and stage (last arg) is
// already there.
func addHook(list []specs.Hook, h specs.Hook) []specs.Hook {
	stage := h.Args[len(h.Args)-1]
	for _, e := range list {
		if e.Path == h.Path && len(e.Args) > 0 && e.Args[len(e.Args)-1] == stage {
			return list
		}
	}
	return append(list, h)
}

// NoNewPrivileges sets process.noNewPrivileges. It only ever turns the
// flag on: a profile cannot switch off what the spec already asks for.
type NoNewPrivileges struct{}

// Modify sets the flag.
func (NoNewPrivileges) Modify(s *specs.Spec) error {
	if s.Process == nil {
		return errors.New("setting noNewPrivileges: the spec has no process section")
	}
	s.Process.NoNewPrivileges = true
	return nil
}

// FileHardening makes the kernel enforce the literal paths of a profile's
// file rules: paths in Deny become linux.maskedPaths (runc bind-mounts
// /dev/null over a file, an empty read-only tmpfs over a directory), paths
// in ReadOnly become linux.readonlyPaths. Globs are skipped: the runtime
// monitor enforces them. Entries already present are not repeated.
type FileHardening struct {
	Deny     []string
	ReadOnly []string
}

// Modify adds the paths.
func (m FileHardening) Modify(s *specs.Spec) error {
	deny, ro := literalPaths(m.Deny), literalPaths(m.ReadOnly)
	if len(deny) == 0 && len(ro) == 0 {
		return nil
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.MaskedPaths = addPaths(s.Linux.MaskedPaths, deny)
	s.Linux.ReadonlyPaths = addPaths(s.Linux.ReadonlyPaths, ro)
	return nil
}

// literalPaths keeps the patterns that name exactly one absolute path,
// cleaned. "/" is never masked or made read-only as a whole: that would
// break the container instead of hardening it.
func literalPaths(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		if !glob.IsLiteral(p) || !path.IsAbs(p) {
			continue
		}
		p = path.Clean(p)
		if p == "/" {
			continue
		}
		out = append(out, p)
	}
	return out
}

func addPaths(list, add []string) []string {
	for _, p := range add {
		if !slices.Contains(list, p) {
			list = append(list, p)
		}
	}
	return list
}

// Annotation keys confine-runc writes into the bundle so the decision is
// visible there (and to the hook, which gets them in the state).
const (
	AnnotationProfile = profiles.LabelProfile     // confine.profile
	AnnotationMode    = profiles.LabelMode        // confine.mode
	AnnotationDigest  = profiles.AnnotationDigest // confine.digest
)

// Annotations sets annotations, overwriting values already there.
type Annotations map[string]string

// Modify sets the annotations.
func (m Annotations) Modify(s *specs.Spec) error {
	if len(m) == 0 {
		return nil
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	for k, v := range m {
		s.Annotations[k] = v
	}
	return nil
}

// DropCapabilities keeps only the capabilities in Keep (profile syntax,
// "NET_BIND_SERVICE" or "CAP_NET_BIND_SERVICE") in all five sets of
// process.capabilities: bounding, effective, permitted, inheritable and
// ambient. It only ever removes: a capability the spec did not grant is
// not added. A spec without process.capabilities gets Keep in every set
// but ambient (runc would otherwise leave the process every capability).
type DropCapabilities struct {
	Keep []string
}

// AnnotationCapabilities records, in the private copy, the capabilities
// DropCapabilities kept (comma-separated, CAP_ names): runc exec
// processes are narrowed to the same (confine-runc exec).
const AnnotationCapabilities = "confine.capabilities"

// Modify narrows the sets and records the list kept.
func (m DropCapabilities) Modify(s *specs.Spec) error {
	if s.Process == nil {
		return errors.New("dropping capabilities: the spec has no process section")
	}
	caps, list, err := NarrowCapabilities(s.Process.Capabilities, m.Keep)
	if err != nil {
		return err
	}
	s.Process.Capabilities = caps
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[AnnotationCapabilities] = strings.Join(list, ",")
	return nil
}

// NarrowCapabilities keeps only keep in the five sets of caps (in place)
// and returns them with the normalised list kept. nil caps become keep in
// every set but ambient.
func NarrowCapabilities(caps *specs.LinuxCapabilities, keepNames []string) (*specs.LinuxCapabilities, []string, error) {
	keep := map[string]bool{}
	list := []string{}
	for _, c := range keepNames {
		n := "CAP_" + profiles.NormalizeCapability(c)
		if _, ok := profiles.CapabilityBit(n); !ok {
			return nil, nil, fmt.Errorf("dropping capabilities: unknown capability %q", c)
		}
		if !keep[n] {
			keep[n] = true
			list = append(list, n)
		}
	}
	if caps == nil {
		return &specs.LinuxCapabilities{
			Bounding: slices.Clone(list), Effective: slices.Clone(list),
			Permitted: slices.Clone(list), Inheritable: []string{},
		}, list, nil
	}
	narrow := func(set []string) []string {
		out := []string{}
		for _, c := range set {
			if keep["CAP_"+profiles.NormalizeCapability(c)] {
				out = append(out, c)
			}
		}
		return out
	}
	caps.Bounding = narrow(caps.Bounding)
	caps.Effective = narrow(caps.Effective)
	caps.Permitted = narrow(caps.Permitted)
	caps.Inheritable = narrow(caps.Inheritable)
	caps.Ambient = narrow(caps.Ambient)
	return caps, list, nil
}
