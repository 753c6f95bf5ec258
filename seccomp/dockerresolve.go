package seccomp

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/profiles"
)

// DockerDefaultCapabilities is the capability set Docker (and containerd)
// gives a container by default. The docker-default base is resolved for it
// when a profile lists no privileges.capabilities.
var DockerDefaultCapabilities = []string{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// AssumedKernel is the kernel version "minKernel" conditions of Docker
// profiles are evaluated against. confine supports Linux 5.4 and later; a
// fixed value keeps a generated filter independent of the host that
// generated it. A rule that needs a newer kernel is left out.
const AssumedKernel = "5.4"

// resolveEnv is what Docker's conditional rules are resolved for.
type resolveEnv struct {
	fam  *archFamily
	caps map[string]bool // normalized, without CAP_
	// capsFrom says where caps came from, for notes.
	capsFrom string
}

func newResolveEnv(fam *archFamily, caps profiles.List) resolveEnv {
	env := resolveEnv{fam: fam, caps: map[string]bool{}}
	if caps == nil {
		caps = DockerDefaultCapabilities
		env.capsFrom = "Docker's default capabilities"
	} else {
		env.capsFrom = "the profile's privileges.capabilities"
	}
	for _, c := range caps {
		env.caps[profiles.NormalizeCapability(c)] = true
	}
	return env
}

// dockerRule is one rule of a Docker profile after resolution.
type dockerRule struct {
	index  int // in the source syscalls array
	names  []string
	action specs.LinuxSeccompAction
	errno  *uint
	args   []specs.LinuxSeccompArg
}

// resolved is a Docker profile resolved for one architecture and
// capability set: what Docker itself would put into the OCI spec.
type resolved struct {
	defaultAction specs.LinuxSeccompAction
	defaultErrno  *uint
	arches        []specs.Arch
	rules         []dockerRule
	notes         []string
}

var seccompActions = map[string]specs.LinuxSeccompAction{}
var seccompOps = map[string]specs.LinuxSeccompOperator{}

func init() {
	for _, a := range []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActKillThread,
		specs.ActTrap, specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify} {
		seccompActions[string(a)] = a
	}
	for _, o := range []specs.LinuxSeccompOperator{specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpEqualTo, specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual} {
		seccompOps[string(o)] = o
	}
}

// goarchOfSeccompArch maps the main libseccomp architectures to GOARCH.
var goarchOfSeccompArch = map[string]string{
	"SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_AARCH64": "arm64", "SCMP_ARCH_X86": "386",
	"SCMP_ARCH_ARM": "arm", "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390X": "s390x",
	"SCMP_ARCH_RISCV64": "riscv64", "SCMP_ARCH_MIPS64": "mips64", "SCMP_ARCH_MIPSEL64": "mips64le",
	"SCMP_ARCH_LOONGARCH64": "loong64",
}

// resolveDocker resolves a parsed Docker profile for env the way Docker
// does: archMap picks the host's entry, includes/excludes are evaluated for
// the architecture, the capabilities and AssumedKernel. Values are checked
// and errors name the field.
func resolveDocker(p *dockerProfile, pos *docPositions, env resolveEnv) (*resolved, error) {
	r := &resolved{}
	act, ok := seccompActions[p.DefaultAction]
	if !ok {
		return nil, pos.errAt("defaultAction", ErrDockerProfile, "unknown action %q", p.DefaultAction)
	}
	r.defaultAction = act
	r.defaultErrno = p.DefaultErrnoRet
	if p.DefaultErrnoRet != nil && act != specs.ActErrno {
		return nil, pos.errAt("defaultErrnoRet", ErrDockerProfile, "set, but defaultAction is %s", p.DefaultAction)
	}

	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return nil, pos.errAt("archMap", ErrDockerProfile, "architectures and archMap are mutually exclusive")
	}
	for i, a := range p.Architectures {
		if !strings.HasPrefix(a, "SCMP_ARCH_") {
			return nil, pos.errAt(fmt.Sprintf("architectures[%d]", i), ErrDockerProfile, "unknown architecture %q", a)
		}
		r.arches = append(r.arches, specs.Arch(a))
	}
	for i, m := range p.ArchMap {
		if !strings.HasPrefix(m.Arch, "SCMP_ARCH_") {
			return nil, pos.errAt(fmt.Sprintf("archMap[%d].architecture", i), ErrDockerProfile, "unknown architecture %q", m.Arch)
		}
		if specs.Arch(m.Arch) != env.fam.native {
			continue
		}
		r.arches = append(r.arches, specs.Arch(m.Arch))
		for _, s := range m.SubArches {
			r.arches = append(r.arches, specs.Arch(s))
		}
	}

	for i, sc := range p.Syscalls {
		field := fmt.Sprintf("syscalls[%d]", i)
		names := sc.Names
		switch {
		case sc.Name != "" && len(sc.Names) > 0:
			return nil, pos.errAt(field, ErrDockerProfile, "both name and names are set")
		case sc.Name != "":
			names = []string{sc.Name}
		case len(sc.Names) == 0:
			return nil, pos.errAt(field, ErrDockerProfile, "no syscall name (name or names)")
		}
		for j, n := range names {
			if !isSyscallName(n) {
				f := field + ".name"
				if sc.Name == "" {
					f = fmt.Sprintf("%s.names[%d]", field, j)
				}
				return nil, pos.errAt(f, ErrDockerProfile, "%q is not a syscall name", n)
			}
		}
		label := fmt.Sprintf("%s (%s)", field, strings.Join(names, ", "))
		act, ok := seccompActions[sc.Action]
		if !ok {
			return nil, pos.errAt(field+".action", ErrDockerProfile, "unknown action %q", sc.Action)
		}
		if sc.ErrnoRet != nil && act != specs.ActErrno && act != specs.ActTrace {
			return nil, pos.errAt(field+".errnoRet", ErrDockerProfile, "set, but the action is %s", sc.Action)
		}
		args := make([]specs.LinuxSeccompArg, 0, len(sc.Args))
		for j, a := range sc.Args {
			af := fmt.Sprintf("%s.args[%d]", field, j)
			op, ok := seccompOps[a.Op]
			if !ok {
				return nil, pos.errAt(af+".op", ErrDockerProfile, "unknown operator %q", a.Op)
			}
			if a.Index > 5 {
				return nil, pos.errAt(af+".index", ErrDockerProfile, "argument index %d is not 0-5", a.Index)
			}
			args = append(args, specs.LinuxSeccompArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: op})
		}
		apply, why, err := conditionsHold(sc, field, pos, env)
		if err != nil {
			return nil, err
		}
		if why != "" {
			verb := "applies"
			if !apply {
				verb = "skipped"
			}
			r.notes = append(r.notes, fmt.Sprintf("%s: %s: %s", label, verb, why))
		}
		if !apply {
			continue
		}
		rule := dockerRule{index: i, names: append([]string(nil), names...), action: act, errno: sc.ErrnoRet}
		if len(args) > 0 {
			rule.args = args
		}
		r.rules = append(r.rules, rule)
	}
	return r, nil
}

// conditionsHold evaluates a rule's includes and excludes. why explains
// the decision when the rule had any condition.
func conditionsHold(sc dockerSyscall, field string, pos *docPositions, env resolveEnv) (bool, string, error) {
	if sc.Includes.empty() && sc.Excludes.empty() {
		return true, "", nil
	}
	var reasons []string
	apply := true
	if f := sc.Includes; !f.empty() {
		if len(f.Arches) > 0 {
			if contains(f.Arches, env.fam.goarch) {
				reasons = append(reasons, fmt.Sprintf("includes arches [%s] has %s", strings.Join(f.Arches, " "), env.fam.goarch))
			} else {
				apply = false
				reasons = append(reasons, fmt.Sprintf("includes arches [%s] lacks %s", strings.Join(f.Arches, " "), env.fam.goarch))
			}
		}
		if len(f.Caps) > 0 {
			var missing []string
			for _, c := range f.Caps {
				if !env.caps[profiles.NormalizeCapability(c)] {
					missing = append(missing, c)
				}
			}
			if len(missing) > 0 {
				apply = false
				reasons = append(reasons, fmt.Sprintf("includes caps [%s]: %s not granted by %s", strings.Join(f.Caps, " "), strings.Join(missing, " "), env.capsFrom))
			} else {
				reasons = append(reasons, fmt.Sprintf("includes caps [%s] granted by %s", strings.Join(f.Caps, " "), env.capsFrom))
			}
		}
		if f.MinKernel != "" {
			ok, err := kernelAtLeast(f.MinKernel)
			if err != nil {
				return false, "", pos.errAt(field+".includes.minKernel", ErrDockerProfile, "%v", err)
			}
			if ok {
				reasons = append(reasons, fmt.Sprintf("includes minKernel %s <= %s (the oldest kernel confine supports)", f.MinKernel, AssumedKernel))
			} else {
				apply = false
				reasons = append(reasons, fmt.Sprintf("includes minKernel %s > %s (the oldest kernel confine supports)", f.MinKernel, AssumedKernel))
			}
		}
	}
	if f := sc.Excludes; !f.empty() {
		if len(f.Arches) > 0 {
			if contains(f.Arches, env.fam.goarch) {
				apply = false
				reasons = append(reasons, fmt.Sprintf("excludes arches [%s] has %s", strings.Join(f.Arches, " "), env.fam.goarch))
			} else {
				reasons = append(reasons, fmt.Sprintf("excludes arches [%s] lacks %s", strings.Join(f.Arches, " "), env.fam.goarch))
			}
		}
		if len(f.Caps) > 0 {
			var granted []string
			for _, c := range f.Caps {
				if env.caps[profiles.NormalizeCapability(c)] {
					granted = append(granted, c)
				}
			}
			if len(granted) > 0 {
				apply = false
				reasons = append(reasons, fmt.Sprintf("excludes caps [%s]: %s granted by %s", strings.Join(f.Caps, " "), strings.Join(granted, " "), env.capsFrom))
			} else {
				reasons = append(reasons, fmt.Sprintf("excludes caps [%s], none granted by %s", strings.Join(f.Caps, " "), env.capsFrom))
			}
		}
		if f.MinKernel != "" {
			ok, err := kernelAtLeast(f.MinKernel)
			if err != nil {
				return false, "", pos.errAt(field+".excludes.minKernel", ErrDockerProfile, "%v", err)
			}
			// Excluded on kernels >= minKernel; confine cannot know the
			// kernel, so it assumes the oldest it supports.
			if ok {
				apply = false
				reasons = append(reasons, fmt.Sprintf("excludes minKernel %s <= %s", f.MinKernel, AssumedKernel))
			} else {
				reasons = append(reasons, fmt.Sprintf("excludes minKernel %s > %s (assumed)", f.MinKernel, AssumedKernel))
			}
		}
	}
	return apply, strings.Join(reasons, "; "), nil
}

// kernelAtLeast reports whether AssumedKernel >= v ("major.minor").
func kernelAtLeast(v string) (bool, error) {
	want, err := parseKernel(v)
	if err != nil {
		return false, err
	}
	have, _ := parseKernel(AssumedKernel)
	if have[0] != want[0] {
		return have[0] > want[0], nil
	}
	return have[1] >= want[1], nil
}

func parseKernel(v string) ([2]int, error) {
	var out [2]int
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return out, fmt.Errorf("kernel version %q is not major.minor", v)
	}
	for i := 0; i < 2; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return out, fmt.Errorf("kernel version %q is not major.minor", v)
		}
		out[i] = n
	}
	return out, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// toSpec returns what Docker would place in the OCI spec for r.
func (r *resolved) toSpec() *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{DefaultAction: r.defaultAction, DefaultErrnoRet: r.defaultErrno, Architectures: r.arches}
	for _, rule := range r.rules {
		names := append([]string(nil), rule.names...)
		sort.Strings(names)
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: names, Action: rule.action, ErrnoRet: rule.errno, Args: rule.args})
	}
	return s
}
