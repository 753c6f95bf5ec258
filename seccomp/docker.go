package seccomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/profiles"
)

// ImportDocker turns a Docker/Podman seccomp JSON document (the format of
// moby's profiles/seccomp/default.json, old and current) into a profile
// named name, for goarch. file names the document in errors and notes and
// becomes the profile's Source; the profile's mode is enforce.
//
// The import is lossless for what a profile can say: syscalls allowed
// without conditions, syscalls denied, and the default action (errno,
// kill, log, or allow, which makes a deny list). What it cannot say is an
// error wrapping ErrUnsupported that names the construct and its place:
// argument filters, SCMP_ACT_TRACE/TRAP/NOTIFY, errno values other than
// EPERM and ENOSYS, a kill for some syscalls in an errno profile, seccomp
// flags, a listener path. Two documented choices keep Docker's own
// profiles importable:
//
//   - A document equivalent to the embedded Docker default (same rules,
//     in any order or layout) becomes "base: docker-default", which keeps
//     its argument rules and resolves its conditions when the filter is
//     generated.
//   - Otherwise an allow rule with argument conditions that Docker's
//     default profile uses (clone flag masks, personality values, socket
//     families) is dropped, so the syscall is denied unless another rule
//     allows it, and a note says so. This is the conservative reading; add
//     the syscall to seccomp.allow to allow it for all arguments.
//
// Conditional rules (includes/excludes) are resolved for goarch, Docker's
// default capabilities and AssumedKernel, each decision noted; names
// libseccomp does not know for goarch are dropped with a note (runc
// ignores them too). The notes explain every such decision, one line each.
func ImportDocker(data []byte, file string, name string, goarch string) (*profiles.Profile, []string, error) {
	fam, err := family(goarch)
	if err != nil {
		return nil, nil, fmt.Errorf("importing %s: %w", file, err)
	}
	dp, pos, err := parseDocker(data, file)
	if err != nil {
		return nil, nil, err
	}
	p := &profiles.Profile{APIVersion: profiles.APIVersion, Name: name, Mode: profiles.ModeEnforce, Source: file}
	asBase := func(note string) (*profiles.Profile, []string, error) {
		p.Seccomp = profiles.Seccomp{Base: profiles.BaseDockerDefault, DefaultAction: profiles.ActionErrno}
		return p, []string{note + ": imported as base: docker-default, whose argument rules are kept and whose conditions are resolved when the filter is generated (for privileges.capabilities, Docker's default set when absent)"}, nil
	}
	def, _, err := embeddedDockerDefault()
	if err != nil {
		return nil, nil, fmt.Errorf("importing %s: reading the embedded docker-default profile: %w", file, err)
	}
	if sameDockerProfile(dp, def) {
		return asBase("equivalent to Docker's default profile")
	}
	imp := &importer{fam: fam, pos: pos, allowAt: map[string]int{}, refuseAt: map[string]int{}, denyAt: map[string]int{}}
	r, err := imp.resolve(dp)
	if err != nil {
		return nil, nil, err
	}
	if base, err := Generate(&profiles.Profile{Seccomp: profiles.Seccomp{Base: profiles.BaseDockerDefault}}, goarch); err == nil {
		if ok, _ := sameDecisions(r.toSpec(), base, fam.known); ok {
			return asBase(fmt.Sprintf("decides every syscall libseccomp knows for %s as Docker's default profile does (Docker's default capabilities)", goarch))
		}
	}
	if err := imp.run(dp, r); err != nil {
		return nil, nil, err
	}
	p.Seccomp = imp.seccomp()
	imp.finalNotes(p)
	if _, err := Generate(p, goarch); err != nil {
		return nil, nil, fmt.Errorf("importing %s: %w", file, err)
	}
	return p, imp.notes, nil
}

type importer struct {
	fam   *archFamily
	pos   *docPositions
	notes []string
	// action is the profile's defaultAction; denyList marks an
	// SCMP_ACT_ALLOW default (a deny list whose flavour the deny rules set).
	action   string
	denyList bool
	// allowAt, refuseAt and denyAt map each name to the first rule that
	// allows it, refuses it, or refuses it in a way seccomp.deny must
	// carry (refusals the default action implies are not listed).
	allowAt, refuseAt, denyAt map[string]int
	// implied counts refusals the default action implies.
	implied int
	// dropped are names of dropped argument rules, by rule index.
	dropped map[string][]int
	// ruled are the names any applicable rule lists.
	ruled nameSet
}

func (imp *importer) notef(format string, args ...any) {
	imp.notes = append(imp.notes, fmt.Sprintf(format, args...))
}

// unsupported reports a construct a profile cannot express: construct
// names it, hint (may be empty) says what confine can do instead.
func (imp *importer) unsupported(path, construct, hint string) error {
	e := imp.pos.errAt(path, ErrUnsupported, "%s %s", construct, ErrUnsupported.Error())
	if hint != "" {
		e.Msg += " (" + hint + ")"
	}
	return e
}

// resolve checks what no profile can carry and resolves the conditional
// rules for the architecture and Docker's default capabilities.
func (imp *importer) resolve(dp *dockerProfile) (*resolved, error) {
	if len(dp.Flags) > 0 {
		return nil, imp.unsupported("flags", "seccomp flags "+strings.Join(dp.Flags, ", "), "runc 1.1.5 rejects them")
	}
	if dp.ListenerPath != "" {
		return nil, imp.unsupported("listenerPath", "a seccomp notify listener", "confined runs its own")
	}
	if dp.ListenerMetadata != "" {
		return nil, imp.unsupported("listenerMetadata", "seccomp notify listener metadata", "confined runs its own listener")
	}
	env := newResolveEnv(imp.fam, nil)
	r, err := resolveDocker(dp, imp.pos, env)
	if err != nil {
		return nil, err
	}
	if len(r.notes) > 0 {
		imp.notef("conditional rules resolved for %s with %s and kernel %s", imp.fam.goarch, env.capsFrom, AssumedKernel)
		imp.notes = append(imp.notes, r.notes...)
	}
	return r, nil
}

func (imp *importer) run(dp *dockerProfile, r *resolved) error {
	if len(r.arches) > 0 && !reflect.DeepEqual(r.arches, imp.fam.arches) {
		var have, want []string
		for _, a := range r.arches {
			have = append(have, string(a))
		}
		for _, a := range imp.fam.arches {
			want = append(want, string(a))
		}
		imp.notef("architectures: the file lists %s for %s; confine always filters %s", strings.Join(have, ", "), imp.fam.goarch, strings.Join(want, ", "))
	}
	if err := imp.defaultAction(dp, r); err != nil {
		return err
	}
	imp.ruled = nameSet{}
	for _, rule := range r.rules {
		imp.ruled.add(rule.names)
		if err := imp.rule(rule); err != nil {
			return err
		}
	}
	if err := imp.checkConflicts(); err != nil {
		return err
	}
	imp.defaultNotes(r)
	return nil
}

func (imp *importer) defaultAction(dp *dockerProfile, r *resolved) error {
	switch r.defaultAction {
	case specs.ActErrno:
		imp.action = profiles.ActionErrno
		if r.defaultErrno != nil && *r.defaultErrno != errnoEPERM && *r.defaultErrno != errnoENOSYS {
			return imp.unsupported("defaultErrnoRet", fmt.Sprintf("errno %d as the default", *r.defaultErrno), "confine refuses with EPERM or ENOSYS")
		}
	case specs.ActKillProcess:
		imp.action = profiles.ActionKill
	case specs.ActKill, specs.ActKillThread:
		imp.action = profiles.ActionKill
		imp.notef("defaultAction: %s kills the calling thread only; confine kills the whole process (SCMP_ACT_KILL_PROCESS)", r.defaultAction)
	case specs.ActLog:
		imp.action = profiles.ActionLog
	case specs.ActAllow:
		imp.denyList = true
	default:
		return imp.unsupported("defaultAction", dp.DefaultAction+" as the default action", "")
	}
	return nil
}

// defaultNotes explains where the default action of the file and
// confine's differ for syscalls no rule names.
func (imp *importer) defaultNotes(r *resolved) {
	var unruledFallback, unruledOther []string
	for _, n := range imp.fam.known {
		if imp.ruled[n] {
			continue
		}
		if contains(FallbackSyscalls, n) {
			unruledFallback = append(unruledFallback, n)
		} else {
			unruledOther = append(unruledOther, n)
		}
	}
	switch {
	case imp.denyList:
	case imp.action == profiles.ActionErrno:
		errno := errnoEPERM
		if r.defaultErrno != nil {
			errno = *r.defaultErrno
		}
		if errno == errnoEPERM && len(unruledFallback) > 0 {
			imp.notef("defaultAction: %s get ENOSYS in confine instead of the file's EPERM, so callers fall back (FallbackSyscalls)", strings.Join(unruledFallback, ", "))
		}
		if errno == errnoENOSYS && len(unruledOther) > 0 {
			imp.notef("defaultErrnoRet: %d syscalls libseccomp knows that the file leaves to its ENOSYS default get EPERM in confine (ENOSYS stays for syscalls libseccomp does not know and for FallbackSyscalls)", len(unruledOther))
		}
		if errno == errnoEPERM {
			imp.notef("defaultAction: syscalls libseccomp does not know get ENOSYS in confine instead of EPERM, so callers fall back")
		}
	case imp.action == profiles.ActionKill:
		if len(unruledFallback) > 0 {
			imp.notef("defaultAction: %s get ENOSYS in confine instead of a kill, so callers fall back (FallbackSyscalls)", strings.Join(unruledFallback, ", "))
		}
	}
	if imp.implied > 0 {
		imp.notef("%d refusals of the file are implied by the default action: not listed in seccomp.deny", imp.implied)
	}
}

func (imp *importer) rule(rule dockerRule) error {
	field := fmt.Sprintf("syscalls[%d]", rule.index)
	label := fmt.Sprintf("%s (%s)", field, strings.Join(rule.names, ", "))
	if len(rule.args) > 0 && rule.action != specs.ActAllow {
		return imp.unsupported(field+".args", fmt.Sprintf("an argument filter on a %s rule for %s", rule.action, strings.Join(rule.names, ", ")), "")
	}
	switch rule.action {
	case specs.ActAllow:
		if imp.denyList {
			imp.notef("%s: allows what the default action allows already: ignored", label)
			return nil
		}
		if len(rule.args) > 0 {
			if !isDockerArgRule(rule) {
				return imp.unsupported(field+".args", fmt.Sprintf("an argument filter (%s) on %s", describeArgs(rule.args), strings.Join(rule.names, ", ")), "only Docker's default argument rules are imported, by dropping them")
			}
			if imp.dropped == nil {
				imp.dropped = map[string][]int{}
			}
			for _, n := range rule.names {
				imp.dropped[n] = append(imp.dropped[n], rule.index)
			}
			imp.notef("%s: allowed only when %s (an argument rule of Docker's default profile): confine profiles have no argument filters, so the rule is dropped", label, describeArgs(rule.args))
			return nil
		}
		mark(imp.allowAt, rule)
	case specs.ActErrno:
		errno := errnoEPERM
		if rule.errno != nil {
			errno = *rule.errno
		}
		if errno != errnoEPERM && errno != errnoENOSYS {
			return imp.unsupported(field+".errnoRet", fmt.Sprintf("errno %d for %s", errno, strings.Join(rule.names, ", ")), "confine refuses with EPERM, or ENOSYS for FallbackSyscalls")
		}
		switch {
		case imp.denyList && imp.action == profiles.ActionKill:
			return imp.unsupported(field+".action", "SCMP_ACT_ERRNO here and a kill in another rule", "a deny list refuses all its syscalls one way")
		case imp.denyList:
			imp.action = profiles.ActionErrno
		case imp.action == profiles.ActionKill:
			// Generate answers ENOSYS for FallbackSyscalls it does not
			// allow, in kill mode too: only that is expressible.
			for _, n := range rule.names {
				if errno != errnoENOSYS || !contains(FallbackSyscalls, n) {
					return imp.unsupported(field+".action", "SCMP_ACT_ERRNO for "+n+" in a profile whose default kills", "only FallbackSyscalls answer ENOSYS there")
				}
			}
			mark(imp.refuseAt, rule)
			return nil
		}
		for _, n := range rule.names {
			want := errnoEPERM
			if contains(FallbackSyscalls, n) {
				want = errnoENOSYS
			}
			if errno != want {
				imp.notef("%s: %s answers %s in confine instead of %s", label, n, errnoName(want), errnoName(errno))
			}
		}
		listed := imp.denyList || imp.action == profiles.ActionLog
		imp.refuse(rule, func(string) bool { return listed })
	case specs.ActKill, specs.ActKillProcess, specs.ActKillThread:
		switch {
		case imp.denyList && imp.action == profiles.ActionErrno:
			return imp.unsupported(field+".action", string(rule.action)+" here and SCMP_ACT_ERRNO in another rule", "a deny list refuses all its syscalls one way")
		case imp.denyList:
			imp.action = profiles.ActionKill
		case imp.action != profiles.ActionKill:
			return imp.unsupported(field+".action", fmt.Sprintf("%s for %s in a profile whose default is %s", rule.action, strings.Join(rule.names, ", "), imp.action), "")
		}
		if rule.action != specs.ActKillProcess {
			imp.notef("%s: %s kills the calling thread only; confine kills the whole process", label, rule.action)
		}
		// In kill mode a refusal is implied, except for FallbackSyscalls,
		// which would get ENOSYS unless denied.
		imp.refuse(rule, func(n string) bool { return imp.denyList || contains(FallbackSyscalls, n) })
	case specs.ActLog:
		if imp.action == profiles.ActionLog && !imp.denyList {
			imp.notef("%s: logs, as the default action does: ignored", label)
			return nil
		}
		return imp.unsupported(field+".action", fmt.Sprintf("SCMP_ACT_LOG for %s in a profile whose default is not SCMP_ACT_LOG", strings.Join(rule.names, ", ")), "")
	default:
		return imp.unsupported(field+".action", fmt.Sprintf("%s for %s", rule.action, strings.Join(rule.names, ", ")), "")
	}
	return nil
}

// refuse records the refusals of a rule; listed says whether
// seccomp.deny must carry a name (otherwise the default action implies
// it).
func (imp *importer) refuse(rule dockerRule, listed func(string) bool) {
	mark(imp.refuseAt, rule)
	for _, n := range rule.names {
		if !listed(n) {
			imp.implied++
			continue
		}
		if _, ok := imp.denyAt[n]; !ok {
			imp.denyAt[n] = rule.index
		}
	}
}

func mark(at map[string]int, rule dockerRule) {
	for _, n := range rule.names {
		if _, ok := at[n]; !ok {
			at[n] = rule.index
		}
	}
}

func (imp *importer) checkConflicts() error {
	names := make([]string, 0, len(imp.refuseAt))
	for n := range imp.refuseAt {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if a, ok := imp.allowAt[n]; ok {
			d := imp.refuseAt[n]
			first, second := a, d
			if d < a {
				first, second = d, a
			}
			return imp.pos.errAt(fmt.Sprintf("syscalls[%d]", second), ErrDockerProfile,
				"%s is both allowed and refused (also in syscalls[%d]): runc cannot load such a filter", n, first)
		}
	}
	return nil
}

// seccomp builds the profile section, dropping names libseccomp does not
// know for the architecture.
func (imp *importer) seccomp() profiles.Seccomp {
	s := profiles.Seccomp{DefaultAction: imp.action}
	if s.DefaultAction == "" {
		// A deny list without deny rules.
		s.DefaultAction = profiles.ActionErrno
	}
	keep := func(at map[string]int, what string) profiles.List {
		var known, unknown []string
		for n := range at {
			if imp.fam.isKnown(n) {
				known = append(known, n)
			} else {
				unknown = append(unknown, n)
			}
		}
		sort.Strings(known)
		sort.Strings(unknown)
		if len(unknown) > 0 {
			imp.notef("%s names libseccomp does not know for %s dropped (runc ignores them too): %s", what, imp.fam.goarch, strings.Join(unknown, ", "))
		}
		return profiles.List(known)
	}
	if !imp.denyList {
		s.Allow = keep(imp.allowAt, "allowed")
		if s.Allow == nil {
			s.Allow = profiles.List{}
		}
	}
	if len(imp.denyAt) > 0 {
		s.Deny = keep(imp.denyAt, "refused")
		if len(s.Deny) == 0 {
			s.Deny = nil
		}
	}
	return s
}

// finalNotes adds the notes that need the finished profile.
func (imp *importer) finalNotes(p *profiles.Profile) {
	s := p.Seccomp
	allowed := setOf(s.Allow)
	var droppedNames []string
	for n := range imp.dropped {
		droppedNames = append(droppedNames, n)
	}
	sort.Strings(droppedNames)
	for _, n := range droppedNames {
		if allowed[n] {
			imp.notef("%s: allowed for all arguments by another rule", n)
		} else if imp.fam.isKnown(n) {
			imp.notef("%s: denied, since its argument rules were dropped; add it to seccomp.allow to allow it for all arguments", n)
		}
	}
	if imp.denyList {
		if s.Deny == nil {
			imp.notef("defaultAction: SCMP_ACT_ALLOW and nothing refused: the filter allows every syscall")
		} else {
			imp.notef("defaultAction: SCMP_ACT_ALLOW: imported as a deny list (no seccomp.allow); seccomp.defaultAction %s says how seccomp.deny is refused", s.DefaultAction)
		}
		return
	}
	var floor []string
	for _, n := range append(append([]string(nil), RuntimeFloor...), EarlyInitFloor...) {
		if imp.fam.isKnown(n) && !allowed[n] && !contains(floor, n) {
			floor = append(floor, n)
		}
	}
	sort.Strings(floor)
	if len(floor) > 0 {
		imp.notef("confine's filters also allow the runtime floor runc's init needs after loading them, which this file does not allow: %s", strings.Join(floor, ", "))
	}
}

func errnoName(e uint) string {
	switch e {
	case errnoEPERM:
		return "EPERM"
	case errnoENOSYS:
		return "ENOSYS"
	}
	return fmt.Sprintf("errno %d", e)
}

// describeArgs renders argument conditions for notes and errors.
func describeArgs(args []specs.LinuxSeccompArg) string {
	var parts []string
	for _, a := range args {
		var s string
		switch a.Op {
		case specs.OpEqualTo:
			s = fmt.Sprintf("arg%d == %#x", a.Index, a.Value)
		case specs.OpNotEqual:
			s = fmt.Sprintf("arg%d != %#x", a.Index, a.Value)
		case specs.OpLessThan:
			s = fmt.Sprintf("arg%d < %d", a.Index, a.Value)
		case specs.OpLessEqual:
			s = fmt.Sprintf("arg%d <= %d", a.Index, a.Value)
		case specs.OpGreaterThan:
			s = fmt.Sprintf("arg%d > %d", a.Index, a.Value)
		case specs.OpGreaterEqual:
			s = fmt.Sprintf("arg%d >= %d", a.Index, a.Value)
		case specs.OpMaskedEqual:
			s = fmt.Sprintf("arg%d & %#x == %#x", a.Index, a.Value, a.ValueTwo)
		default:
			s = fmt.Sprintf("arg%d %s %#x", a.Index, a.Op, a.Value)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " and ")
}

// olderDockerArgRules are argument rules of earlier Docker default
// profiles that the embedded one no longer has: the clone flag mask before
// CLONE_NEWCGROUP was added to it.
var olderDockerArgRules = []dockerRule{
	{names: []string{"clone"}, action: specs.ActAllow, args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7C020000, Op: specs.OpMaskedEqual}}},
}

// isDockerArgRule reports whether an argument-filtered allow rule is one
// Docker's default profile uses (the embedded one, for any architecture
// and capability set, or an older one).
func isDockerArgRule(rule dockerRule) bool {
	def, _, err := embeddedDockerDefault()
	if err != nil {
		return false
	}
	match := func(names []string, args []specs.LinuxSeccompArg) bool {
		if !reflect.DeepEqual(args, rule.args) {
			return false
		}
		for _, n := range rule.names {
			if !contains(names, n) {
				return false
			}
		}
		return true
	}
	for _, r := range olderDockerArgRules {
		if match(r.names, r.args) {
			return true
		}
	}
	for _, sc := range def.Syscalls {
		if sc.Action != string(specs.ActAllow) || len(sc.Args) == 0 {
			continue
		}
		var args []specs.LinuxSeccompArg
		for _, a := range sc.Args {
			args = append(args, specs.LinuxSeccompArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: specs.LinuxSeccompOperator(a.Op)})
		}
		names := sc.Names
		if sc.Name != "" {
			names = []string{sc.Name}
		}
		if match(names, args) {
			return true
		}
	}
	return false
}

// sameDockerProfile reports whether two documents say the same thing:
// equal after normalizing name/names, the order of names within a rule,
// comments and empty conditions.
func sameDockerProfile(a, b *dockerProfile) bool {
	return reflect.DeepEqual(canonicalDocker(a), canonicalDocker(b))
}

func canonicalDocker(p *dockerProfile) *dockerProfile {
	c := *p
	c.Syscalls = nil
	for _, sc := range p.Syscalls {
		n := sc
		if n.Name != "" {
			n.Names = append([]string{n.Name}, n.Names...)
			n.Name = ""
		}
		n.Names = append([]string(nil), n.Names...)
		sort.Strings(n.Names)
		n.Comment = ""
		if n.Includes.empty() {
			n.Includes = nil
		}
		if n.Excludes.empty() {
			n.Excludes = nil
		}
		if len(n.Args) == 0 {
			n.Args = nil
		}
		c.Syscalls = append(c.Syscalls, n)
	}
	return &c
}

// ExportDocker returns the seccomp section of p as Docker seccomp JSON for
// goarch: the filter Generate builds, in the format `docker run
// --security-opt seccomp=FILE`, Podman and `ctr run --seccomp
// --seccomp-profile FILE` read (defaultAction, defaultErrnoRet,
// architectures, syscalls with names, action, errnoRet and args). The
// output is stable for a given profile and GOARCH.
func ExportDocker(p *profiles.Profile, goarch string) ([]byte, error) {
	f, err := Generate(p, goarch)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("no seccomp section to export")
	}
	return marshalDocker(f)
}

// marshalDocker renders a filter as Docker seccomp JSON.
func marshalDocker(f *specs.LinuxSeccomp) ([]byte, error) {
	d := dockerProfile{
		DefaultAction:   string(f.DefaultAction),
		DefaultErrnoRet: f.DefaultErrnoRet,
		ListenerPath:    f.ListenerPath,
		Syscalls:        []dockerSyscall{},
	}
	for _, a := range f.Architectures {
		d.Architectures = append(d.Architectures, string(a))
	}
	for _, fl := range f.Flags {
		d.Flags = append(d.Flags, string(fl))
	}
	for _, r := range f.Syscalls {
		sc := dockerSyscall{Names: r.Names, Action: string(r.Action), ErrnoRet: r.ErrnoRet}
		for _, a := range r.Args {
			sc.Args = append(sc.Args, dockerArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: string(a.Op)})
		}
		d.Syscalls = append(d.Syscalls, sc)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encoding Docker seccomp JSON: %w", err)
	}
	return b.Bytes(), nil
}
