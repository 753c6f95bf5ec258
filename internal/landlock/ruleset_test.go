package landlock

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHierarchies(t *testing.T) {
	got := Hierarchies([]string{"/tmp/**", "/tmp/a", "/var/cache/x/**", "/var/cache/**", "bad", "/"})
	if diff := cmp.Diff([]string{"/"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got = Hierarchies([]string{"/tmp/**", "/tmp/a", "/var/cache/x/**", "/var/cache/**", "bad", "/tmpx"})
	if diff := cmp.Diff([]string{"/tmp", "/tmpx", "/var/cache"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSplitArgs(t *testing.T) {
	rs := &Ruleset{RestrictWrite: true, Write: []string{"/tmp"}}
	args := rs.Args([]string{"sh", "-c", "x"})
	got, argv, err := SplitArgs(args[1:])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, got); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"sh", "-c", "x"}, argv); diff != "" {
		t.Error(diff)
	}
	for _, bad := range [][]string{nil, {"x", "--", "sh"}, {RulesetFlag + "!!", "--", "sh"}, {rs.Encode(), "sh"}, {RulesetFlag + "eyJ4IjpbInJlbCJdfQ", "--", "sh"}} {
		if _, _, err := SplitArgs(bad); err == nil {
			t.Errorf("SplitArgs(%q) accepted", bad)
		}
	}
}

func TestNewPlan(t *testing.T) {
	rs := &Ruleset{RestrictExec: true, Execute: []string{"/bin/busybox"}, RestrictWrite: true, Write: []string{"/tmp"},
		RestrictBind: true, Bind: []uint16{80}}
	if _, err := NewPlan(rs, 0); err == nil {
		t.Fatal("ABI 0 accepted")
	}
	p1, err := NewPlan(rs, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p1.HandledNet != 0 || len(p1.Skipped) != 1 || p1.LogNewExec {
		t.Errorf("ABI 1 plan: %+v", p1)
	}
	p7, err := NewPlan(rs, 7)
	if err != nil {
		t.Fatal(err)
	}
	if p7.HandledNet == 0 || len(p7.Skipped) != 0 || !p7.LogNewExec {
		t.Errorf("ABI 7 plan: %+v", p7)
	}
	if p7.Paths["/dev/null"]&rightsWrite == 0 || p7.Paths["/bin/busybox"]&rightsExec == 0 || p7.Paths["/tmp"]&rightsExec != 0 {
		t.Errorf("rights per class wrong: %+v", p7.Paths)
	}
	// Reads are not restricted: no read right is handled or granted.
	if p7.HandledFS&rightsRead != 0 {
		t.Errorf("read handled without files.read: %x", p7.HandledFS)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add((&Ruleset{RestrictRead: true, Read: []string{"/etc"}}).Encode())
	f.Add(RulesetFlag + "e30")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Decode(s)
		if err != nil {
			return
		}
		if _, err := Decode(r.Encode()); err != nil {
			t.Fatalf("re-encoded ruleset does not decode: %v", err)
		}
	})
}
