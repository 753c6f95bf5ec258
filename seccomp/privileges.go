package seccomp

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/profiles"
)

// The privilege rules of a profile (privileges.ptrace, namespaces,
// rawSockets, setid, kernel: SPEC section 8) are enforced by the filter.
// A rule set to false refuses every syscall the rule names, and for the
// calls that are privileged only with some arguments (socket of a raw
// family or type, chmod with a set-id bit, mknod of a device, clone with
// a namespace flag) the syscall stays allowed for every other argument:
// the filter gets argument rules for the allowed complement and for the
// refused cases, all of them conditional (libseccomp lets an
// unconditional rule override conditional ones for the same syscall).
// RuleOf tells the seccomp agent which rule a refused call broke, so that
// its alert names the rule.

// privilegeNames are the syscalls a rule names outright.
var privilegeNames = map[string][]string{
	profiles.RulePtrace: {"pidfd_getfd", "process_vm_readv", "process_vm_writev", "ptrace"},
	profiles.RuleNamespaces: {"fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr",
		"move_mount", "open_tree", "pivot_root", "setns", "umount", "umount2", "unshare"},
	profiles.RuleSetid: {"setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
		"setgroups", "setgroups32", "setregid", "setregid32", "setresgid", "setresgid32",
		"setresuid", "setresuid32", "setreuid", "setreuid32", "setuid", "setuid32"},
	profiles.RuleKernel: {"add_key", "bpf", "create_module", "delete_module", "finit_module",
		"init_module", "ioperm", "iopl", "kexec_file_load", "kexec_load", "keyctl",
		"perf_event_open", "request_key", "userfaultfd"},
}

// Argument values the guards test (linux/socket.h, linux/stat.h,
// linux/sched.h).
const (
	afPacket      = 17
	sockTypeMask  = 0xf
	sockRaw       = 3
	sockPacket    = 10
	modeSetid     = 0o6000
	modeSetuid    = 0o4000
	modeSetgid    = 0o2000
	modeFmt       = 0o170000
	modeChr       = 0o020000
	modeBlk       = 0o060000
	cloneNewMask  = 0x7E020080 // NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
	cloneNewFirst = 0x00000080
)

// guard is a syscall that a rule makes privileged for some arguments.
type guard struct {
	rule string
	name string
	// refused and allowed are OCI argument lists (each one rule, its
	// conditions ANDed, never two on one argument: runc splits those
	// into separate rules); together they cover every call, and no call
	// matches both.
	refused [][]specs.LinuxSeccompArg
	allowed [][]specs.LinuxSeccompArg
	// match says whether a call with these arguments is the privileged
	// one.
	match func(args [6]uint64) bool
}

func masked(i uint, mask, value uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: i, Value: mask, ValueTwo: value, Op: specs.OpMaskedEqual}
}

func cmpArg(i uint, op specs.LinuxSeccompOperator, v uint64) specs.LinuxSeccompArg {
	return specs.LinuxSeccompArg{Index: i, Value: v, Op: op}
}

// setidGuard: a chmod-family call whose mode (argument i) sets S_ISUID or
// S_ISGID.
func setidGuard(name string, i uint) guard {
	return guard{
		rule: profiles.RuleSetid, name: name,
		refused: [][]specs.LinuxSeccompArg{{masked(i, modeSetuid, modeSetuid)}, {masked(i, modeSetid, modeSetgid)}},
		allowed: [][]specs.LinuxSeccompArg{{masked(i, modeSetid, 0)}},
		match:   func(a [6]uint64) bool { return a[i]&modeSetid != 0 },
	}
}

// deviceGuard: mknod of a character or block device (mode is argument i).
// Every other file type is allowed (the kernel refuses the invalid ones).
func deviceGuard(name string, i uint) guard {
	return guard{
		rule: profiles.RuleKernel, name: name,
		refused: [][]specs.LinuxSeccompArg{{masked(i, modeFmt, modeChr)}, {masked(i, modeFmt, modeBlk)}},
		allowed: [][]specs.LinuxSeccompArg{
			{masked(i, 0o160000, 0)},        // 0 (regular), S_IFIFO
			{masked(i, modeFmt, 0o030000)},  //
			{masked(i, 0o160000, 0o040000)}, // S_IFDIR, 0o050000
			{masked(i, modeFmt, 0o070000)},  //
			{masked(i, 0o100000, 0o100000)}, // S_IFREG, S_IFLNK, S_IFSOCK...
		},
		match: func(a [6]uint64) bool { t := a[i] & modeFmt; return t == modeChr || t == modeBlk },
	}
}

// rawSocketGuard: socket(AF_PACKET, ...) or a SOCK_RAW / SOCK_PACKET type.
func rawSocketGuard() guard {
	notPacket := cmpArg(0, specs.OpNotEqual, afPacket)
	g := guard{
		rule: profiles.RuleRawSockets, name: "socket",
		refused: [][]specs.LinuxSeccompArg{
			{cmpArg(0, specs.OpEqualTo, afPacket)},
			{notPacket, masked(1, sockTypeMask, sockRaw)},
			{notPacket, masked(1, sockTypeMask, sockPacket)},
		},
		match: func(a [6]uint64) bool {
			t := a[1] & sockTypeMask
			return a[0] == afPacket || t == sockRaw || t == sockPacket
		},
	}
	// Every other type, in blocks of the type mask: {0,1} {2} {4-7} {8,9} {11} {12-15}.
	for _, b := range [][2]uint64{{0xe, 0}, {0xf, 2}, {0xc, 4}, {0xe, 8}, {0xf, 11}, {0xc, 12}} {
		g.allowed = append(g.allowed, []specs.LinuxSeccompArg{notPacket, masked(1, b[0], b[1])})
	}
	return g
}

// cloneGuard: clone with any CLONE_NEW* flag (flags are argument 0 on
// x86_64 and aarch64). clone3 passes its flags in memory, where a filter
// cannot look: with namespaces off it answers ENOSYS, and libc falls back
// to clone.
func cloneGuard() guard {
	g := guard{
		rule: profiles.RuleNamespaces, name: "clone",
		allowed: [][]specs.LinuxSeccompArg{{masked(0, cloneNewMask, 0)}},
		match:   func(a [6]uint64) bool { return a[0]&cloneNewMask != 0 },
	}
	// One refusal per flag: a call with several matches several rules,
	// all with the same action.
	for bit := uint64(cloneNewFirst); bit <= 0x40000000; bit <<= 1 {
		if cloneNewMask&bit != 0 {
			g.refused = append(g.refused, []specs.LinuxSeccompArg{masked(0, bit, bit)})
		}
	}
	return g
}

var guards = []guard{
	cloneGuard(),
	rawSocketGuard(),
	setidGuard("chmod", 1), setidGuard("fchmod", 1), setidGuard("fchmodat", 2), setidGuard("fchmodat2", 2),
	deviceGuard("mknod", 1), deviceGuard("mknodat", 2),
}

// refusedWithoutArgs are syscalls a rule refuses although it cannot look
// at their arguments; they answer ENOSYS so that callers fall back to the
// guarded call.
var refusedWithoutArgs = map[string][]string{
	profiles.RuleNamespaces: {"clone3"},
}

// PrivilegeRuleOf returns the privilege rule a syscall exercises with
// these arguments ("" for none). It does not look at any profile.
func PrivilegeRuleOf(name string, args [6]uint64) string {
	for rule, names := range privilegeNames {
		if slices.Contains(names, name) {
			return rule
		}
	}
	for _, g := range guards {
		if g.name == name && g.match(args) {
			return g.rule
		}
	}
	return ""
}

// RefusedRule returns the privilege rule of p that refuses the call, ""
// when none does: the name an alert about a refused (or, in monitor mode,
// reported) syscall gives as its rule.
func RefusedRule(p *profiles.Profile, name string, args [6]uint64) string {
	if p == nil {
		return ""
	}
	if r := PrivilegeRuleOf(name, args); r != "" && p.Privileges.Denies(r) {
		return r
	}
	return ""
}

// PrivilegeRuleOfName returns the rule a syscall exercises whatever its
// arguments ("" when none, or only for some arguments): what learning
// concludes from a syscall name alone.
func PrivilegeRuleOfName(name string) string {
	for rule, names := range privilegeNames {
		if slices.Contains(names, name) {
			return rule
		}
	}
	return ""
}

// applyPrivileges takes what p's privilege rules refuse out of the plan:
// unconditional names leave the allowed set and are refused like the Deny
// list; guarded syscalls that are allowed outright (or, in a deny list,
// by default) become guarded.
//
// Without privileges.noNewPrivileges: true, the early-init floor (setuid,
// setgid, setgroups) stays allowed: runc's init calls them under the
// filter for every `runc exec` whose process lacks no_new_privs (docker
// exec does), even when the container's own process has it. The uid
// changes they make are still seen by the process monitor, and setid:
// false puts no_new_privs on the container's process, so set-id
// executables gain nothing.
func (pl *plan) applyPrivileges(p *profiles.Profile) {
	nnp := p.Privileges.NoNewPrivileges != nil && *p.Privileges.NoNewPrivileges
	early := setOf(EarlyInitFloor)
	for _, rule := range profiles.PrivilegeRules {
		if !p.Privileges.Denies(rule) {
			continue
		}
		for _, n := range privilegeNames[rule] {
			if !pl.fam.isKnown(n) || (early[n] && !nnp) {
				continue
			}
			delete(pl.allowed, n)
			pl.denied[n] = true
		}
		for _, n := range refusedWithoutArgs[rule] {
			if pl.fam.isKnown(n) && pl.allowed[n] {
				delete(pl.allowed, n)
				pl.notes = append(pl.notes, fmt.Sprintf("privileges.%s: false: %s answers ENOSYS (its arguments cannot be checked; callers fall back)", rule, n))
			}
		}
		for _, g := range guards {
			if g.rule != rule || !pl.fam.isKnown(g.name) {
				continue
			}
			if pl.denied[g.name] {
				continue
			}
			if pl.allowed[g.name] || !pl.restricted {
				delete(pl.allowed, g.name)
				pl.guarded = append(pl.guarded, g)
				continue
			}
			for _, br := range pl.baseRules {
				if slices.Contains(br.names, g.name) {
					pl.notes = append(pl.notes, fmt.Sprintf("privileges.%s: false: %s keeps the base's argument rules (the dropped capabilities refuse the privileged case)", rule, g.name))
					break
				}
			}
		}
	}
}

// guardRules returns the filter rules of the guarded syscalls: the
// allowed complement with allowAction, the privileged cases with refuse.
func guardRules(gs []guard, allowAction specs.LinuxSeccompAction, refuse specs.LinuxSyscall) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, g := range gs {
		for _, args := range g.allowed {
			out = append(out, specs.LinuxSyscall{Names: []string{g.name}, Action: allowAction, Args: slices.Clone(args)})
		}
		for _, args := range g.refused {
			r := refuse
			r.Names = []string{g.name}
			r.Args = slices.Clone(args)
			out = append(out, r)
		}
	}
	return out
}
