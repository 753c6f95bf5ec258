package seccomp

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFamiliesNeverWiden: no family holds a syscall that a privilege rule
// names, each name is in one family only, and a guarded syscall's family
// is guarded in every spelling.
func TestFamiliesNeverWiden(t *testing.T) {
	where := map[string]int{}
	for i, f := range Families {
		if len(f) < 2 {
			t.Errorf("family %v has one member", f)
		}
		for _, n := range f {
			if j, ok := where[n]; ok {
				t.Errorf("%s is in families %v and %v", n, Families[j], f)
			}
			where[n] = i
			if r := PrivilegeRuleOfName(n); r != "" {
				t.Errorf("family %v holds %s, which privileges.%s names", f, n, r)
			}
			if !isSyscallName(n) {
				t.Errorf("%q is not a syscall name", n)
			}
		}
	}
	for _, g := range guards {
		i, ok := where[g.name]
		if !ok {
			continue
		}
		for _, n := range Families[i] {
			if !slices.ContainsFunc(guards, func(h guard) bool { return h.name == n && h.rule == g.rule }) && isKnownAnywhere(n) {
				t.Errorf("%s is guarded by privileges.%s but its family member %s is not", g.name, g.rule, n)
			}
		}
	}
}

func isKnownAnywhere(n string) bool {
	return slices.Contains(KnownSyscalls("amd64"), n) || slices.Contains(KnownSyscalls("arm64"), n)
}

func TestWithFamilies(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"busybox spellings gain the *at forms", []string{"unlink", "mkdir", "exit_group"},
			[]string{"exit_group", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat"}},
		{"nothing to add", []string{"exit_group", "ptrace"}, []string{"exit_group", "ptrace"}},
		{"Go spellings gain the old ones", []string{"renameat"}, []string{"rename", "renameat", "renameat2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, WithFamilies(tt.in, "amd64")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
