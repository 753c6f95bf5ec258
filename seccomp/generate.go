package seccomp

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/profiles"
)

// dockerDefaultJSON is Docker's default seccomp profile, default.json of
// the moby/profiles repository (Apache License 2.0), unchanged. It is the
// docker-default base.
//
//go:embed docker_default.json
var dockerDefaultJSON []byte

var dockerDefault struct {
	once sync.Once
	p    *dockerProfile
	pos  *docPositions
	err  error
}

// embeddedDockerDefault returns the parsed docker-default base.
func embeddedDockerDefault() (*dockerProfile, *docPositions, error) {
	dockerDefault.once.Do(func() {
		dockerDefault.p, dockerDefault.pos, dockerDefault.err = parseDocker(dockerDefaultJSON, "docker-default")
	})
	return dockerDefault.p, dockerDefault.pos, dockerDefault.err
}

// plan is a filter being built from a profile.
type plan struct {
	fam *archFamily
	// restricted is false for a deny list (no allow list, no base).
	restricted bool
	action     string
	allowed    nameSet
	denied     nameSet
	// baseRules are the base's rules that are not plain allows (argument
	// filters, explicit errno), minus names the profile lists itself.
	baseRules []dockerRule
	// guarded are syscalls the profile's privilege rules allow only for
	// some arguments (see privileges.go).
	guarded []guard
	notes   []string
}

// Generate returns the OCI seccomp filter for the seccomp section of p on
// goarch ("amd64" or "arm64"; HostArch for this host), or nil when p has
// no seccomp section. The package documentation describes the filter.
// Errors name the profile field at fault.
func Generate(p *profiles.Profile, goarch string) (*specs.LinuxSeccomp, error) {
	pl, err := newPlan(p, goarch)
	if err != nil || pl == nil {
		return nil, err
	}
	return pl.filter(), nil
}

// Explain returns, one line each, the decisions Generate makes for p that
// the profile does not spell out: how the docker-default base's
// conditional rules were resolved (architecture, capabilities, kernel),
// which runtime floor was added, and where its lists changed the base.
func Explain(p *profiles.Profile, goarch string) ([]string, error) {
	pl, err := newPlan(p, goarch)
	if err != nil || pl == nil {
		return nil, err
	}
	return pl.notes, nil
}

func newPlan(p *profiles.Profile, goarch string) (*plan, error) {
	if p == nil || (p.Seccomp.IsZero() && !p.Privileges.DeniesAny()) {
		// A profile whose privilege rules are off gets a filter for them
		// even without a seccomp section (a deny list of what they name).
		return nil, nil
	}
	fam, err := family(goarch)
	if err != nil {
		return nil, err
	}
	s := p.Seccomp
	pl := &plan{fam: fam, action: s.EffectiveDefaultAction(), allowed: nameSet{}, denied: nameSet{}}
	switch pl.action {
	case profiles.ActionErrno, profiles.ActionKill, profiles.ActionLog:
	default:
		return nil, fmt.Errorf("seccomp.defaultAction: %q is not errno, kill or log", s.DefaultAction)
	}
	for i, n := range s.Allow {
		if !isSyscallName(n) {
			return nil, fmt.Errorf("seccomp.allow[%d]: %q is not a syscall name", i, n)
		}
	}
	allow := setOf(s.Allow)
	nnp := p.Privileges.NoNewPrivileges != nil && *p.Privileges.NoNewPrivileges
	runtimeFloor, earlyFloor := setOf(RuntimeFloor), setOf(EarlyInitFloor)
	for i, n := range s.Deny {
		switch {
		case !isSyscallName(n):
			return nil, fmt.Errorf("seccomp.deny[%d]: %q is not a syscall name", i, n)
		case allow[n]:
			return nil, fmt.Errorf("seccomp.deny[%d]: syscall %q is both allowed and denied", i, n)
		case runtimeFloor[n]:
			return nil, fmt.Errorf("seccomp.deny[%d]: runc's init needs %q after loading the filter (seccomp.RuntimeFloor): no container could start", i, n)
		case earlyFloor[n] && !nnp:
			return nil, fmt.Errorf("seccomp.deny[%d]: runc's init needs %q after loading the filter when no_new_privileges is off; set privileges.noNewPrivileges: true to deny it", i, n)
		}
	}
	pl.restricted = s.Allow != nil || s.Base != ""

	switch s.Base {
	case "":
	case profiles.BaseDockerDefault:
		dp, pos, err := embeddedDockerDefault()
		if err != nil {
			return nil, fmt.Errorf("seccomp.base: reading the embedded docker-default profile: %w", err)
		}
		env := newResolveEnv(fam, p.Privileges.Capabilities)
		r, err := resolveDocker(dp, pos, env)
		if err != nil {
			return nil, fmt.Errorf("seccomp.base: resolving docker-default: %w", err)
		}
		pl.notes = append(pl.notes, fmt.Sprintf("base docker-default resolved for %s with %s", fam.goarch, env.capsFrom))
		for _, n := range r.notes {
			pl.notes = append(pl.notes, "docker-default "+n)
		}
		for _, rule := range r.rules {
			if rule.action == specs.ActAllow && rule.args == nil {
				pl.allowed.add(rule.names)
				continue
			}
			pl.baseRules = append(pl.baseRules, rule)
		}
	default:
		return nil, fmt.Errorf("seccomp.base: unknown base %q (known: %s)", s.Base, profiles.BaseDockerDefault)
	}

	pl.allowed.add(s.Allow)
	if pl.restricted {
		floor := setOf(RuntimeFloor)
		which := "runtime floor"
		if !nnp {
			floor.add(EarlyInitFloor)
			which = "runtime floor and early-init floor (noNewPrivileges is not forced)"
		}
		if f := initFloorFor(p); f != nil {
			floor.add(f)
			which += " and confine-init floor (Landlock)"
		}
		var added []string
		for _, n := range floor.sorted() {
			if !fam.isKnown(n) {
				continue
			}
			if !pl.allowed[n] {
				added = append(added, n)
			}
			pl.allowed[n] = true
		}
		if len(added) > 0 {
			pl.notes = append(pl.notes, fmt.Sprintf("%s allowed for runc's init: %s", which, strings.Join(added, ", ")))
		}
	}
	pl.denied.add(s.Deny)
	for _, n := range pl.denied.sorted() {
		if pl.allowed[n] {
			delete(pl.allowed, n)
			pl.notes = append(pl.notes, fmt.Sprintf("%s: denied by the profile although the base allows it", n))
		}
	}
	// The profile's own lists override the base's argument rules.
	explicit := setOf(s.Allow, s.Deny)
	var kept []dockerRule
	for _, rule := range pl.baseRules {
		var names []string
		for _, n := range rule.names {
			if explicit[n] {
				pl.notes = append(pl.notes, fmt.Sprintf("docker-default syscalls[%d] for %s replaced by the profile's own rule", rule.index, n))
				continue
			}
			names = append(names, n)
		}
		if len(names) > 0 {
			rule.names = names
			kept = append(kept, rule)
		}
	}
	pl.baseRules = kept
	pl.applyPrivileges(p)
	return pl, nil
}

const socketcall = "socketcall"

// filter builds the specs.LinuxSeccomp of the plan.
func (pl *plan) filter() *specs.LinuxSeccomp {
	out := &specs.LinuxSeccomp{Architectures: append([]specs.Arch(nil), pl.fam.arches...)}
	fallback := setOf(FallbackSyscalls)
	ruled := nameSet{}
	for _, rule := range pl.baseRules {
		ruled.add(rule.names)
	}
	for _, g := range pl.guarded {
		ruled[g.name] = true
	}

	var enosys, eperm, kill nameSet = nameSet{}, nameSet{}, nameSet{}
	refuse := func(n string) {
		if fallback[n] {
			enosys[n] = true
		} else {
			eperm[n] = true
		}
	}
	switch {
	case !pl.restricted:
		// A deny list: everything else is allowed.
		out.DefaultAction = specs.ActAllow
		for n := range pl.denied {
			if pl.action == profiles.ActionKill {
				kill[n] = true
			} else {
				refuse(n)
			}
		}
	case pl.action == profiles.ActionErrno:
		out.DefaultAction = specs.ActErrno
		out.DefaultErrnoRet = uintPtr(errnoENOSYS)
		for _, n := range pl.fam.known {
			if !pl.allowed[n] && !ruled[n] {
				refuse(n)
			}
		}
		for n := range pl.denied {
			refuse(n)
		}
	case pl.action == profiles.ActionKill:
		out.DefaultAction = specs.ActKillProcess
		for n := range fallback {
			if pl.fam.isKnown(n) && !pl.allowed[n] && !ruled[n] && !pl.denied[n] {
				enosys[n] = true
			}
		}
		for n := range pl.denied {
			kill[n] = true
		}
	case pl.action == profiles.ActionLog:
		out.DefaultAction = specs.ActLog
		for n := range pl.denied {
			refuse(n)
		}
	}

	if len(pl.allowed) > 0 {
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: pl.allowed.sorted(), Action: specs.ActAllow})
	}
	for _, rule := range pl.baseRules {
		names := append([]string(nil), rule.names...)
		sort.Strings(names)
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: names, Action: rule.action, ErrnoRet: rule.errno, Args: rule.args})
	}
	if len(pl.guarded) > 0 {
		refuse := specs.LinuxSyscall{Action: specs.ActErrno, ErrnoRet: uintPtr(errnoEPERM)}
		if pl.action == profiles.ActionKill {
			refuse = specs.LinuxSyscall{Action: specs.ActKillProcess}
		}
		// x86's multiplexed socketcall carries socket's arguments in
		// memory: libseccomp turns socket's argument rules into socketcall
		// rules it cannot tell apart, and fails to load ("file exists")
		// when socketcall also has a rule of its own after them. A refused
		// socketcall goes first, as one unconditional rule.
		if pl.restricted && !pl.allowed[socketcall] && pl.fam.isKnown(socketcall) && slices.ContainsFunc(pl.guarded, func(g guard) bool { return g.name == "socket" }) {
			r := refuse
			r.Names = []string{socketcall}
			out.Syscalls = append(out.Syscalls, r)
			delete(eperm, socketcall)
			delete(kill, socketcall)
		}
		out.Syscalls = append(out.Syscalls, guardRules(pl.guarded, specs.ActAllow, refuse)...)
	}
	if len(enosys) > 0 {
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: enosys.sorted(), Action: specs.ActErrno, ErrnoRet: uintPtr(errnoENOSYS)})
	}
	if len(eperm) > 0 {
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: eperm.sorted(), Action: specs.ActErrno, ErrnoRet: uintPtr(errnoEPERM)})
	}
	if len(kill) > 0 {
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: kill.sorted(), Action: specs.ActKillProcess})
	}
	return out
}

// GenerateNotify returns the filter of learning (and monitoring) mode:
// everything is allowed, and every syscall libseccomp knows for goarch is
// sent to the seccomp agent listening on listenerPath (SCMP_ACT_NOTIFY),
// which records or reports it and lets it continue, except:
//
//   - the names in known (already learned),
//   - RuntimeFloor (always allowed by Generate),
//   - when p's seccomp section restricts syscalls (an allow list or a
//     base), every syscall its filter allows, with or without argument
//     conditions (for docker-default, clone and socket are not sent),
//   - write: runc 1.1.5 rejects SCMP_ACT_NOTIFY on write, which its init
//     needs to report to its parent.
//
// p may be nil. A deny-list section adds nothing to skip: pass the names
// to skip in known.
func GenerateNotify(p *profiles.Profile, goarch string, known []string, listenerPath string) (*specs.LinuxSeccomp, error) {
	fam, err := family(goarch)
	if err != nil {
		return nil, err
	}
	if listenerPath == "" {
		return nil, fmt.Errorf("generating a notify filter: empty listener path")
	}
	skip := setOf(known, RuntimeFloor, []string{"write"})
	pl, err := newPlan(p, goarch)
	if err != nil {
		return nil, err
	}
	if pl != nil && pl.restricted {
		for n := range pl.allowed {
			skip[n] = true
		}
		for _, r := range pl.baseRules {
			if r.action == specs.ActAllow {
				skip.add(r.names)
			}
		}
		for _, g := range pl.guarded {
			skip[g.name] = true // allowed but for the privileged arguments
		}
	}
	// Privilege rules that are off report what they name: by name, or
	// for the guarded syscalls with the refused arguments only. runc's
	// own floors are never sent (its init may call setuid and setgroups
	// under the filter when no_new_privs is off).
	var gs []guard
	if p != nil {
		floors := setOf(RuntimeFloor, EarlyInitFloor)
		for _, rule := range profiles.PrivilegeRules {
			if !p.Privileges.Denies(rule) {
				continue
			}
			for _, n := range privilegeNames[rule] {
				if !floors[n] {
					delete(skip, n)
				}
			}
			for _, g := range guards {
				if g.rule == rule && fam.isKnown(g.name) && skip[g.name] {
					gs = append(gs, g)
				}
			}
		}
	}
	var trap []string
	for _, n := range fam.known {
		if !skip[n] {
			trap = append(trap, n)
		}
	}
	out := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: append([]specs.Arch(nil), fam.arches...),
		ListenerPath:  listenerPath,
	}
	if len(trap) > 0 {
		out.Syscalls = []specs.LinuxSyscall{{Names: trap, Action: specs.ActNotify}}
	}
	for _, g := range gs {
		for _, args := range g.refused {
			out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: []string{g.name}, Action: specs.ActNotify, Args: slices.Clone(args)})
		}
	}
	return out, nil
}

// GenerateMonitorNotify returns the filter of monitor mode for p with
// confined's listener: everything is allowed, and what p's enforce filter
// would refuse is sent to the agent, which reports it. For an allow list
// (or a base) that is GenerateNotify with the allow list as known; for a
// deny list only the denied names (and the privilege rules that are off).
func GenerateMonitorNotify(p *profiles.Profile, goarch, listenerPath string) (*specs.LinuxSeccomp, error) {
	pl, err := newPlan(p, goarch)
	if err != nil {
		return nil, err
	}
	known := []string(p.Seccomp.Allow)
	if pl != nil && !pl.restricted {
		known = nil
		for _, n := range pl.fam.known {
			if !pl.denied[n] {
				known = append(known, n)
			}
		}
	}
	return GenerateNotify(p, goarch, known, listenerPath)
}

// GenerateEnforceNotify returns Generate's filter for p with alerts: the
// syscalls it refuses with EPERM (known syscalls outside the allow list,
// and the Deny list) are sent to the seccomp agent on listenerPath instead
// (SCMP_ACT_NOTIFY), which raises an alert and answers EPERM. Syscalls
// libseccomp does not know keep the ENOSYS default, FallbackSyscalls keep
// ENOSYS, kill mode keeps its kills (the kernel audits those), and write
// is never sent (runc 1.1.5 rejects it). The result is nil when p has no
// seccomp section.
func GenerateEnforceNotify(p *profiles.Profile, goarch string, listenerPath string) (*specs.LinuxSeccomp, error) {
	if listenerPath == "" {
		return nil, fmt.Errorf("generating a notify filter: empty listener path")
	}
	f, err := Generate(p, goarch)
	if err != nil || f == nil {
		return nil, err
	}
	notifyRefusals(f, listenerPath)
	return f, nil
}

// notifyRefusals turns the rules of f that answer EPERM into
// SCMP_ACT_NOTIFY rules for listenerPath, except for write, which stays
// EPERM.
func notifyRefusals(f *specs.LinuxSeccomp, listenerPath string) {
	f.ListenerPath = listenerPath
	rules := make([]specs.LinuxSyscall, 0, len(f.Syscalls)+1)
	for _, r := range f.Syscalls {
		if r.Action != specs.ActErrno || r.ErrnoRet == nil || *r.ErrnoRet != errnoEPERM {
			rules = append(rules, r)
			continue
		}
		if len(r.Args) > 0 {
			// A privilege rule's refused arguments (never write).
			r.Action, r.ErrnoRet = specs.ActNotify, nil
			rules = append(rules, r)
			continue
		}
		var names []string
		for _, n := range r.Names {
			if n == "write" {
				rules = append(rules, specs.LinuxSyscall{Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: uintPtr(errnoEPERM)})
				continue
			}
			names = append(names, n)
		}
		if len(names) > 0 {
			rules = append(rules, specs.LinuxSyscall{Names: names, Action: specs.ActNotify})
		}
	}
	f.Syscalls = rules
}
