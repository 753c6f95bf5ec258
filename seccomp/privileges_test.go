package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/profiles"
)

// argMatches evaluates one OCI argument condition the way libseccomp does.
func argMatches(c specs.LinuxSeccompArg, args [6]uint64) bool {
	v := args[c.Index]
	switch c.Op {
	case specs.OpEqualTo:
		return v == c.Value
	case specs.OpNotEqual:
		return v != c.Value
	case specs.OpMaskedEqual:
		return v&c.Value == c.ValueTwo
	case specs.OpLessThan:
		return v < c.Value
	case specs.OpGreaterThan:
		return v > c.Value
	}
	panic("op " + string(c.Op))
}

func ruleMatches(conds []specs.LinuxSeccompArg, args [6]uint64) bool {
	seen := map[uint]bool{}
	for _, c := range conds {
		if seen[c.Index] {
			panic("two conditions on one argument: runc splits them into separate rules")
		}
		seen[c.Index] = true
		if !argMatches(c, args) {
			return false
		}
	}
	return true
}

// TestGuardsPartition: for every guard, each call matches exactly one of
// its allowed and refused argument rules, and the refused ones are
// exactly the privileged calls RuleOf names.
func TestGuardsPartition(t *testing.T) {
	values := func(g guard) [][6]uint64 {
		var out [][6]uint64
		switch g.name {
		case "socket":
			for fam := uint64(0); fam < 48; fam++ {
				for typ := uint64(0); typ < 16; typ++ {
					for _, flags := range []uint64{0, 0o4000, 0o2000000} {
						out = append(out, [6]uint64{fam, typ | flags})
					}
				}
			}
		case "clone":
			for bit := 0; bit < 32; bit++ {
				out = append(out, [6]uint64{1 << bit}, [6]uint64{1<<bit | 0x11})
			}
			out = append(out, [6]uint64{0x01200011}, [6]uint64{cloneNewMask})
		default:
			i := 1
			if g.name == "fchmodat" || g.name == "fchmodat2" || g.name == "mknodat" {
				i = 2
			}
			for mode := uint64(0); mode < 0o200000; mode += 0o100 {
				for _, low := range []uint64{0, 0o644, 0o777} {
					var a [6]uint64
					a[i] = mode | low
					out = append(out, a)
				}
			}
		}
		return out
	}
	for _, g := range guards {
		for _, a := range values(g) {
			nAllowed, nRefused := 0, 0
			for _, r := range g.allowed {
				if ruleMatches(r, a) {
					nAllowed++
				}
			}
			for _, r := range g.refused {
				if ruleMatches(r, a) {
					nRefused++
				}
			}
			if nAllowed > 1 || (nAllowed == 1) == (nRefused > 0) {
				t.Fatalf("%s%v: %d allowed and %d refused rules match", g.name, a, nAllowed, nRefused)
			}
			if (nRefused > 0) != g.match(a) {
				t.Fatalf("%s%v: refused by the filter %v, privileged per match %v", g.name, a, nRefused > 0, g.match(a))
			}
			if g.rule == profiles.RuleNamespaces {
				continue // clone's refused rules overlap (one per flag), all alike
			}
			if nRefused > 1 {
				t.Fatalf("%s%v: %d refused rules match", g.name, a, nRefused)
			}
		}
	}
}

func TestRefusedRule(t *testing.T) {
	off := profiles.Bool(false)
	p := &profiles.Profile{Privileges: profiles.Privileges{Ptrace: off, RawSockets: off, Setid: off, Namespaces: profiles.Bool(true)}}
	tests := []struct {
		name string
		args [6]uint64
		want string
	}{
		{"ptrace", [6]uint64{16}, profiles.RulePtrace},
		{"socket", [6]uint64{17, 3}, profiles.RuleRawSockets},
		{"socket", [6]uint64{2, 3 | 0o2000000}, profiles.RuleRawSockets},
		{"socket", [6]uint64{2, 1}, ""},
		{"fchmodat", [6]uint64{0, 0, 0o4755}, profiles.RuleSetid},
		{"fchmodat", [6]uint64{0, 0, 0o755}, ""},
		{"setresuid", [6]uint64{}, profiles.RuleSetid},
		{"unshare", [6]uint64{0x20000}, ""},       // namespaces: true
		{"mknodat", [6]uint64{0, 0, 0o20600}, ""}, // kernel absent: no restriction
		{"read", [6]uint64{}, ""},
	}
	for _, tt := range tests {
		if got := RefusedRule(p, tt.name, tt.args); got != tt.want {
			t.Errorf("%s%v: %q, want %q", tt.name, tt.args, got, tt.want)
		}
	}
}

// TestGeneratePrivileges: what a rule that is off does to a filter.
func TestGeneratePrivileges(t *testing.T) {
	off := profiles.Bool(false)
	all := profiles.Privileges{Ptrace: off, Namespaces: off, RawSockets: off, Setid: off, Kernel: off}
	allow := profiles.List{"read", "write", "ptrace", "socket", "chmod", "clone", "clone3", "setuid", "setresuid", "bpf", "unshare", "socketcall"}
	f, err := GenerateEnforceNotify(profile(profiles.Seccomp{Allow: allow}, all), "amd64", "/x")
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, f)
	for n, want := range map[string]Decision{
		"read":      {Action: specs.ActAllow},
		"ptrace":    {Action: specs.ActNotify},
		"unshare":   {Action: specs.ActNotify},
		"setuid":    {Action: specs.ActAllow}, // runc exec without no_new_privs needs it
		"setresuid": {Action: specs.ActNotify},
		"bpf":       {Action: specs.ActNotify},
		"socket":    {Action: specs.ActAllow, Conditional: true},
		"chmod":     {Action: specs.ActAllow, Conditional: true},
		"clone":     {Action: specs.ActAllow, Conditional: true},
		"clone3":    {Action: specs.ActErrno, Errno: errnoENOSYS},
	} {
		if got := Decide(f, n); got != want {
			t.Errorf("%s: %+v, want %+v", n, got, want)
		}
	}
	nnp := all
	nnp.NoNewPrivileges = profiles.Bool(true)
	if f, err := Generate(profile(profiles.Seccomp{Allow: allow}, nnp), "amd64"); err != nil || Decide(f, "setuid").Action != specs.ActErrno {
		t.Errorf("setuid with noNewPrivileges: true: %v %+v", err, Decide(f, "setuid"))
	}
	// Without a seccomp section, rules that are off still make a filter:
	// a deny list of what they name.
	dl, err := Generate(profile(profiles.Seccomp{}, profiles.Privileges{Ptrace: off}), "amd64")
	if err != nil || dl == nil {
		t.Fatalf("no filter for privileges alone: %v", err)
	}
	if Decide(dl, "ptrace").Action != specs.ActErrno || Decide(dl, "read").Action != specs.ActAllow {
		t.Errorf("privileges-only filter: ptrace %+v read %+v", Decide(dl, "ptrace"), Decide(dl, "read"))
	}
	// socketcall is refused ahead of socket's argument rules.
	f2, err := Generate(profile(profiles.Seccomp{Allow: profiles.List{"socket"}}, all), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range f2.Syscalls {
		if len(r.Names) == 1 && r.Names[0] == "socketcall" {
			if i+1 >= len(f2.Syscalls) || f2.Syscalls[i+1].Names[0] != "clone" && f2.Syscalls[i+1].Names[0] != "socket" {
				t.Errorf("socketcall's rule is not right before the guards: %v", f2.Syscalls)
			}
		}
	}
}
