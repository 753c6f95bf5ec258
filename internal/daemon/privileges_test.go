package daemon

import (
	"testing"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
)

func TestLearnPrivileges(t *testing.T) {
	tests := []struct {
		name string
		src  profiles.Privileges
		seen []string
		sum  rules.Summary
		want map[string]bool
	}{
		{name: "nothing used: every rule off", seen: []string{"read", "write", "socket", "chmod"},
			want: map[string]bool{}},
		{name: "used by name", seen: []string{"ptrace", "unshare", "bpf"},
			want: map[string]bool{profiles.RulePtrace: true, profiles.RuleNamespaces: true, profiles.RuleKernel: true}},
		{name: "a uid change is setid", sum: rules.Summary{UIDs: []uint32{0, 33}},
			want: map[string]bool{profiles.RuleSetid: true}},
		{name: "capabilities exercised, when recorded", sum: rules.Summary{CapsRecorded: true, CapsUsed: []string{"NET_RAW", "MKNOD"}},
			want: map[string]bool{profiles.RuleRawSockets: true, profiles.RuleKernel: true}},
		{name: "capabilities held count for nothing", sum: rules.Summary{Capabilities: []string{"NET_RAW", "SETUID"}},
			want: map[string]bool{}},
		{name: "the learning profile's own opt-in stays", src: profiles.Privileges{Ptrace: profiles.Bool(true)},
			want: map[string]bool{profiles.RulePtrace: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &profiles.Profile{}
			learnPrivileges(p, &profiles.Profile{Privileges: tt.src}, tt.seen, tt.sum)
			for _, r := range profiles.PrivilegeRules {
				f := *p.Privileges.Rule(r)
				if f == nil || *f != tt.want[r] {
					t.Errorf("privileges.%s = %v, want %v", r, f, tt.want[r])
				}
			}
		})
	}
}

func TestSeccompFinding(t *testing.T) {
	p := &profiles.Profile{Privileges: profiles.Privileges{RawSockets: profiles.Bool(false)}}
	if v := seccompFinding(p, 1, "", "socket", [6]uint64{17, 3}); v.Rule != profiles.RuleRawSockets || v.Subject != "socket" {
		t.Errorf("AF_PACKET: %+v", v)
	}
	if v := seccompFinding(p, 1, "", "umask", [6]uint64{}); v.Rule != alert.RuleSeccomp {
		t.Errorf("umask: %+v", v)
	}
	a := &alert.Alert{}
	setSubject(a, profiles.RuleRawSockets, "socket")
	if a.Syscall != "socket" {
		t.Errorf("CONFINE_SYSCALL of a privilege rule: %q", a.Syscall)
	}
}
