// Package profiles holds the confine/v1 profile schema: decoding with
// line-numbered errors, validation, loading a directory, selecting a profile
// for a container, the embedded baseline, and an atomic on-disk store.
package profiles

// APIVersion is the only schema version this package reads and writes.
const APIVersion = "confine/v1"

// Mode says what confine does with a container's profile.
type Mode string

const (
	ModeLearn   Mode = "learn"
	ModeMonitor Mode = "monitor"
	ModeEnforce Mode = "enforce"
)

// Valid reports whether m is one of the three modes.
func (m Mode) Valid() bool {
	return m == ModeLearn || m == ModeMonitor || m == ModeEnforce
}

// ParseMode turns a label or flag value into a Mode.
func ParseMode(s string) (Mode, bool) {
	m := Mode(s)
	return m, m.Valid()
}

// What a violation does in enforce mode.
const (
	OnViolationKill  = "kill"
	OnViolationAlert = "alert"
)

// Seccomp default actions.
const (
	ActionErrno = "errno"
	ActionKill  = "kill"
	ActionLog   = "log"
)

// BaseDockerDefault names Docker's default seccomp profile as a base.
const BaseDockerDefault = "docker-default"

// Labels and annotations that steer selection.
const (
	LabelProfile = "confine.profile"
	LabelMode    = "confine.mode"
	// AnnotationDigest records, in the bundle, which version of the profile
	// was injected.
	AnnotationDigest = "confine.digest"
	// AnnotationDecision says who selected the profile: "confined", or
	// "local" when confine-runc resolved it itself (fail_mode open).
	AnnotationDecision = "confine.decision"
)

// List is a list of strings where "absent" (nil) and "present but empty"
// differ: an absent rule list places no restriction, an empty one allows
// nothing. It is omitted from YAML only when nil.
type List []string

// IsZero lets yaml omitempty and json omitzero drop a nil list but keep
// an empty one (json's omitempty would drop both: over the API an empty
// list must stay empty, e.g. capabilities: [] is "none", not "any").
func (l List) IsZero() bool { return l == nil }

// Ports is a list of port numbers with the same nil/empty distinction as List.
type Ports []int

// IsZero lets yaml omitempty drop a nil list but keep an empty one.
func (p Ports) IsZero() bool { return p == nil }

// Profile is one confine/v1 profile.
type Profile struct {
	APIVersion  string     `yaml:"apiVersion" json:"apiVersion"`
	Name        string     `yaml:"name" json:"name"`
	Mode        Mode       `yaml:"mode" json:"mode"`
	Selector    Selector   `yaml:"selector,omitempty" json:"selector,omitempty"`
	Seccomp     Seccomp    `yaml:"seccomp,omitempty" json:"seccomp,omitempty"`
	Exec        Exec       `yaml:"exec,omitempty" json:"exec,omitempty"`
	Files       Files      `yaml:"files,omitempty" json:"files,omitempty"`
	Network     Network    `yaml:"network,omitempty" json:"network,omitempty"`
	Privileges  Privileges `yaml:"privileges,omitempty" json:"privileges,omitempty"`
	Secrets     Secrets    `yaml:"secrets,omitempty" json:"secrets,omitempty"`
	OnViolation string     `yaml:"onViolation,omitempty" json:"onViolation,omitempty"`
	// ExecSessions is the policy for processes started with `runc exec`
	// (docker exec, ctr task exec): deny, profile or audit ("" = profile).
	ExecSessions string `yaml:"execSessions,omitempty" json:"execSessions,omitempty"`

	// Source is the file the profile was read from ("embedded" for the
	// built-in baseline). It is not part of the schema.
	Source string `yaml:"-" json:"source,omitempty"`
}

// Selector says which containers a profile applies to.
type Selector struct {
	Images List              `yaml:"images,omitempty" json:"images,omitzero"`
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// IsZero reports an empty selector.
func (s Selector) IsZero() bool { return len(s.Images) == 0 && len(s.Labels) == 0 }

// Seccomp is the syscall part of a profile.
type Seccomp struct {
	// DefaultAction is what a syscall outside Allow gets: errno, kill or log.
	DefaultAction string `yaml:"defaultAction,omitempty" json:"defaultAction,omitempty"`
	// Base names a profile to start from ("docker-default"); Allow and
	// Deny then apply on top of it.
	Base string `yaml:"base,omitempty" json:"base,omitempty"`
	// Allow lists the syscalls that are permitted. Nil means the section
	// places no syscall restriction (unless Base is set).
	Allow List `yaml:"allow,omitempty" json:"allow,omitzero"`
	// Deny lists syscalls that are denied even if Base allows them.
	Deny List `yaml:"deny,omitempty" json:"deny,omitzero"`
	// Families false keeps a learned allow list exactly as seen; by
	// default (nil or true) learning adds the privilege-equivalent
	// spellings of each syscall it saw (seccomp.Families). It is a
	// learning option: it makes no filter by itself.
	Families *bool `yaml:"families,omitempty" json:"families,omitempty"`
}

// IsZero reports a profile without a seccomp section (Families alone
// makes no filter).
func (s Seccomp) IsZero() bool {
	return s.DefaultAction == "" && s.Base == "" && s.Allow == nil && s.Deny == nil
}

// LearnFamilies reports whether learning widens syscalls to their
// privilege-equivalent spellings (the default).
func (s Seccomp) LearnFamilies() bool { return s.Families == nil || *s.Families }

// Exec lists the binaries that may run.
type Exec struct {
	Allow List `yaml:"allow,omitempty" json:"allow,omitzero"`
}

// IsZero reports a profile without an exec section.
func (e Exec) IsZero() bool { return e.Allow == nil }

// Files are the file-access rules; entries are globs (see Match).
//
// Read and Write are allowlists: nil places no restriction on that class
// of access, an empty list allows none. In enforce mode they are enforced
// by the kernel with Landlock (see internal/landlock for how globs become
// the hierarchies Landlock knows). Execution stays in exec.allow.
type Files struct {
	// Read lists what may be opened for reading (files and directories).
	Read List `yaml:"read,omitempty" json:"read,omitzero"`
	// Write lists what may be opened for writing, created, removed or
	// renamed. A path that may be written may also be read.
	Write    List `yaml:"write,omitempty" json:"write,omitzero"`
	Deny     List `yaml:"deny,omitempty" json:"deny,omitzero"`
	ReadOnly List `yaml:"readOnly,omitempty" json:"readOnly,omitzero"`
	Watch    List `yaml:"watch,omitempty" json:"watch,omitzero"`
}

// IsZero reports a profile without a files section.
func (f Files) IsZero() bool {
	return f.Read == nil && f.Write == nil && f.Deny == nil && f.ReadOnly == nil && f.Watch == nil
}

// Secrets tunes the built-in list of credential files whose reads are
// always reported.
type Secrets struct {
	// Ignore lists paths (globs) taken out of the built-in secret list for
	// this profile's containers.
	Ignore List `yaml:"ignore,omitempty" json:"ignore,omitzero"`
}

// IsZero reports a profile without a secrets section.
func (s Secrets) IsZero() bool { return s.Ignore == nil }

// Network lists the approved peers and listening ports.
type Network struct {
	// Egress entries are "CIDR-or-IP-or-host:port-or-*".
	Egress List `yaml:"egress,omitempty" json:"egress,omitzero"`
	// Listen lists the ports that may be bound for listening.
	Listen Ports `yaml:"listen,omitempty" json:"listen,omitzero"`
}

// IsZero reports a profile without a network section.
func (n Network) IsZero() bool { return n.Egress == nil && n.Listen == nil }

// Privileges are the identity and capability rules.
type Privileges struct {
	// AllowRoot false makes a process running as uid 0 a violation. Nil
	// means not checked.
	AllowRoot *bool `yaml:"allowRoot,omitempty" json:"allowRoot,omitempty"`
	// Capabilities lists the effective capabilities a process may hold
	// (names without the CAP_ prefix). Nil means not checked.
	Capabilities List `yaml:"capabilities,omitempty" json:"capabilities,omitzero"`
	// NoNewPrivileges is injected into the container's spec when true.
	NoNewPrivileges *bool `yaml:"noNewPrivileges,omitempty" json:"noNewPrivileges,omitempty"`

	// The privilege rules (SPEC section 8). false refuses what the rule
	// names through the seccomp filter and reports it under the rule's
	// name; nil (absent) or true places no restriction. Learned profiles
	// set each one, true only when the workload did what it names.
	// Ptrace: ptrace and process_vm_readv/writev.
	Ptrace *bool `yaml:"ptrace,omitempty" json:"ptrace,omitempty"`
	// Namespaces: setns, unshare, mount, umount, pivot_root, the new mount
	// API, and clone with CLONE_NEW* flags.
	Namespaces *bool `yaml:"namespaces,omitempty" json:"namespaces,omitempty"`
	// RawSockets: socket() of family AF_PACKET or type SOCK_RAW/SOCK_PACKET.
	RawSockets *bool `yaml:"rawSockets,omitempty" json:"rawSockets,omitempty"`
	// Setid: chmod/fchmod/fchmodat setting S_ISUID or S_ISGID, and uid/gid
	// transitions (the setuid family). false also forces no_new_privs.
	Setid *bool `yaml:"setid,omitempty" json:"setid,omitempty"`
	// Kernel: kernel modules, bpf, perf_event_open, keyctl, userfaultfd,
	// and mknod of device nodes.
	Kernel *bool `yaml:"kernel,omitempty" json:"kernel,omitempty"`
}

// IsZero reports a profile without a privileges section.
func (p Privileges) IsZero() bool {
	return p.AllowRoot == nil && p.Capabilities == nil && p.NoNewPrivileges == nil &&
		p.Ptrace == nil && p.Namespaces == nil && p.RawSockets == nil && p.Setid == nil && p.Kernel == nil
}

// Privilege rule names, as in alerts' CONFINE_RULE and the profile fields.
const (
	RulePtrace     = "ptrace"
	RuleNamespaces = "namespaces"
	RuleRawSockets = "rawSockets"
	RuleSetid      = "setid"
	RuleKernel     = "kernel"
)

// PrivilegeRules lists the rule names in the order of the schema.
var PrivilegeRules = []string{RulePtrace, RuleNamespaces, RuleRawSockets, RuleSetid, RuleKernel}

// Rule returns the field of a privilege rule by name (nil for an unknown
// name or an absent field).
func (p *Privileges) Rule(name string) **bool {
	switch name {
	case RulePtrace:
		return &p.Ptrace
	case RuleNamespaces:
		return &p.Namespaces
	case RuleRawSockets:
		return &p.RawSockets
	case RuleSetid:
		return &p.Setid
	case RuleKernel:
		return &p.Kernel
	}
	return nil
}

// Denies reports whether the privilege rule name is explicitly off.
func (p Privileges) Denies(name string) bool {
	f := p.Rule(name)
	return f != nil && *f != nil && !**f
}

// DeniesAny reports whether any privilege rule is off: the profile then
// needs a seccomp filter even without a seccomp section.
func (p Privileges) DeniesAny() bool {
	for _, r := range PrivilegeRules {
		if p.Denies(r) {
			return true
		}
	}
	return false
}

// ForcesNoNewPrivileges reports whether the profile asks for no_new_privs:
// noNewPrivileges: true, or setid: false (no uid transitions, so no setuid
// executables either).
func (p Privileges) ForcesNoNewPrivileges() bool {
	return (p.NoNewPrivileges != nil && *p.NoNewPrivileges) || p.Denies(RuleSetid)
}

// Exec session policies (execSessions).
const (
	// ExecSessionsProfile holds runc exec processes to the profile like
	// the workload (the default).
	ExecSessionsProfile = "profile"
	// ExecSessionsDeny kills every process started by runc exec.
	ExecSessionsDeny = "deny"
	// ExecSessionsAudit runs sessions under the profile's rules but
	// reports what they do instead of killing.
	ExecSessionsAudit = "audit"
)

// EffectiveExecSessions returns execSessions with its default.
func (p *Profile) EffectiveExecSessions() string {
	if p.ExecSessions == "" {
		return ExecSessionsProfile
	}
	return p.ExecSessions
}

// EffectiveOnViolation returns the profile's onViolation with its default.
func (p *Profile) EffectiveOnViolation() string {
	if p.OnViolation == "" {
		return OnViolationKill
	}
	return p.OnViolation
}

// EffectiveDefaultAction returns the seccomp default action with its default.
func (s Seccomp) EffectiveDefaultAction() string {
	if s.DefaultAction == "" {
		return ActionErrno
	}
	return s.DefaultAction
}

// Bool returns a pointer to b, for building profiles in code.
func Bool(b bool) *bool { return &b }
