package daemon

import (
	"fmt"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/finding"
	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
)

// privilegeWhat says in words what each privilege rule refuses.
var privilegeWhat = map[string]string{
	profiles.RulePtrace:     "tracing or reading the memory of another process",
	profiles.RuleNamespaces: "a namespace or mount change",
	profiles.RuleRawSockets: "a raw socket (AF_PACKET, SOCK_RAW)",
	profiles.RuleSetid:      "a set-id bit or a uid/gid change",
	profiles.RuleKernel:     "a kernel interface (modules, bpf, perf events, keys, userfaultfd, device nodes)",
}

// seccompFinding names what a syscall that the filter sent to the
// listener broke: the privilege rule that refuses it with these
// arguments (CONFINE_RULE=ptrace, rawSockets...), else the syscall list.
func seccompFinding(p *profiles.Profile, pid int, exe, name string, args [6]uint64) finding.Finding {
	f := finding.Finding{Source: finding.SourceSeccomp, Process: &finding.Process{PID: pid, Exe: exe}, Subject: name,
		Rule: alert.RuleSeccomp, Evidence: "syscall " + name + " is not allowed by the profile"}
	if rule := seccomp.RefusedRule(p, name, args); rule != "" {
		f.Rule = rule
		f.Evidence = fmt.Sprintf("%s (syscall %s) is refused by privileges.%s: false", privilegeWhat[rule], name, rule)
	}
	return f
}

// syscallRule reports the rules whose subject is a syscall name.
func syscallRule(rule string) bool {
	if rule == alert.RuleSeccomp {
		return true
	}
	_, ok := privilegeWhat[rule]
	return ok
}

// learnPrivileges sets the privilege rules of a learned profile: each is
// false unless the workload used what it names, or the learning profile
// itself allows it. Use is seen from the syscalls the learn filter logged
// (by name: ptrace, setns, bpf...), from uid changes (setid), and, when a
// capability recorder watched, from the capabilities exercised (NET_RAW
// for raw sockets, SETUID/SETGID/FSETID for set-id, MKNOD for device
// nodes). Argument-guarded uses (a raw socket, a chmod u+s) cannot be told
// from a syscall name; without the recorder they are learned as off.
func learnPrivileges(p, src *profiles.Profile, seen []string, sum rules.Summary) {
	used := map[string]bool{}
	for _, n := range seen {
		if r := seccomp.PrivilegeRuleOfName(n); r != "" {
			used[r] = true
		}
	}
	if len(sum.UIDs) > 1 {
		used[profiles.RuleSetid] = true
	}
	if sum.CapsRecorded {
		for _, c := range sum.CapsUsed {
			switch c {
			case "NET_RAW":
				used[profiles.RuleRawSockets] = true
			case "SETUID", "SETGID", "FSETID":
				used[profiles.RuleSetid] = true
			case "MKNOD", "SYS_MODULE", "BPF", "PERFMON":
				used[profiles.RuleKernel] = true
			case "SYS_PTRACE":
				used[profiles.RulePtrace] = true
			}
		}
	}
	for _, r := range profiles.PrivilegeRules {
		on := used[r]
		if f := src.Privileges.Rule(r); *f != nil && **f {
			on = true
		}
		*p.Privileges.Rule(r) = profiles.Bool(on)
	}
}

// capabilitiesOf fills what confinectl ps shows of a container's
// capabilities: held (its init's CapEff, read now) and used (what the
// capability recorder saw its processes exercise), with why the used set
// is missing or partial.
func (d *Daemon) capabilitiesOf(c *container, v *api.Container) {
	if v.Pid > 0 {
		if p, err := d.mon.fs.Proc(v.Pid); err == nil {
			if st, err := p.Status(); err == nil {
				v.CapsHeld = capList(st.CapEff)
				if v.CapsHeld == nil {
					v.CapsHeld = []string{}
				}
			}
		}
	}
	if caps, fromStart, ok := d.mon.usedCaps(c); ok {
		v.CapsUsed = capList(caps.Used)
		if v.CapsUsed == nil {
			v.CapsUsed = []string{}
		}
		v.CapsRecorded = fromStart
	}
	v.CapsNote = d.mon.capsUnrecorded(c)
}

func capList(set uint64) []string {
	var out []string
	for bit := 0; bit < 64; bit++ {
		if set&(1<<uint(bit)) != 0 {
			out = append(out, profiles.CapabilityName(bit))
		}
	}
	return out
}
