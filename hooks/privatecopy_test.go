package hooks

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestValidID(t *testing.T) {
	// runc's own check: ^[\w+-\.]+$ (the range +-. holds ','), not . or ..
	for id, want := range map[string]bool{
		"c1": true, "test_busybox": true, "a.b-c+d,e": true, "0123abcd": true,
		"": false, ".": false, "..": false, "a/b": false, "../x": false, "a b": false, "é": false, "a:b": false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestRuncRoot(t *testing.T) {
	for _, tt := range []struct{ root, cwd, want string }{
		{"", "/x", DefaultRuncRoot},
		{"/run/containerd/runc/default/", "/x", "/run/containerd/runc/default"},
		{"state", "/tmp/b", "/tmp/b/state"},
	} {
		if got := RuncRoot(tt.root, tt.cwd); got != tt.want {
			t.Errorf("RuncRoot(%q, %q) = %q, want %q", tt.root, tt.cwd, got, tt.want)
		}
	}
}

func TestWriteAndFindCopy(t *testing.T) {
	run := t.TempDir()
	bundle := t.TempDir()
	// The same id under two roots: two copies, two places.
	a, err := WriteCopy(run, Origin{Bundle: bundle, Root: "/run/a", ID: "c1"}, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := WriteCopy(run, Origin{Bundle: filepath.Join(bundle, "other"), Root: "/run/b", ID: "c1"}, []byte(`{"b":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if a == b || filepath.Dir(a) != CopyDir(run, "/run/a", "c1") {
		t.Fatalf("copies %s and %s", a, b)
	}
	if st, err := os.Stat(a); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("copy mode: %v %v", st, err)
	}
	got, o := FindCopy(run, bundle, "c1")
	if got != a || o.Root != "/run/a" {
		t.Errorf("FindCopy = %s %+v, want %s", got, o, a)
	}
	// The kernel reports a working directory with symlinks resolved.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(bundle, link); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteCopy(run, Origin{Bundle: link, Root: "/run/c", ID: "c2"}, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := FindCopy(run, bundle, "c2"); got == "" {
		t.Error("copy recorded under a symlinked bundle path not found")
	}
	if got, _ := FindCopy(run, bundle, "nope"); got != "" {
		t.Errorf("FindCopy of an unknown id = %s", got)
	}
	if _, err := WriteCopy(run, Origin{Bundle: bundle, Root: "/r", ID: "../evil"}, nil); err == nil {
		t.Error("an id runc refuses named a directory")
	}
}

func TestPruneCopies(t *testing.T) {
	run := t.TempDir()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "alive"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alive", "gone", "young"} {
		if _, err := WriteCopy(run, Origin{Bundle: "/b", Root: root, ID: id}, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	age := func(id string) {
		if err := os.Chtimes(CopyDir(run, root, id), old, old); err != nil {
			t.Fatal(err)
		}
	}
	kept := func(want map[string]bool) {
		t.Helper()
		for id, w := range want {
			_, err := os.Stat(CopyDir(run, root, id))
			if (err == nil) != w {
				t.Errorf("%s kept = %v, want %v", id, err == nil, w)
			}
		}
	}
	age("alive")
	age("gone")
	// runc knows "alive"; "young" may be a create in flight.
	if n := PruneCopies(run, time.Now()); n != 1 {
		t.Errorf("pruned %d, want 1", n)
	}
	kept(map[string]bool{"alive": true, "gone": false, "young": true})

	// At most one pass every PruneEvery.
	age("young")
	if err := os.RemoveAll(filepath.Join(root, "alive")); err != nil {
		t.Fatal(err)
	}
	if n := PruneCopies(run, time.Now()); n != 0 {
		t.Errorf("a second pass within PruneEvery pruned %d", n)
	}
	if n := PruneCopies(run, time.Now().Add(2*PruneEvery)); n != 2 {
		t.Errorf("a pass after PruneEvery pruned %d, want 2", n)
	}
	kept(map[string]bool{"alive": false, "young": false})
}

func TestWriteCopyPlaceholder(t *testing.T) {
	run := t.TempDir()
	ph := filepath.Join(CopyDir(run, "/run/a", "c1"), BundleConfigFile)
	o := Origin{Bundle: "/b", Root: "/run/a", ID: "c1", Placeholder: ph}
	for i := 0; i < 2; i++ { // a second create of the id reuses it
		if _, err := WriteCopy(run, o, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(ph); err != nil || st.Size() != 0 || st.Mode().Perm() != 0o600 {
			t.Fatalf("placeholder: %v %v", st, err)
		}
	}
	if got, err := ReadOrigin(filepath.Dir(ph)); err != nil || got != o {
		t.Errorf("origin %+v (%v), want %+v", got, err, o)
	}
	o.Placeholder = filepath.Join(run, "elsewhere")
	if _, err := WriteCopy(run, o, []byte(`{}`)); err == nil {
		t.Error("a placeholder outside the copy's directory was created")
	}
}
