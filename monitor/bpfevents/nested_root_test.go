package bpfevents

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// subCgroup makes a cgroup inside dir, removed at cleanup (before dir).
func subCgroup(t *testing.T, dir, name string) (string, uint64) {
	t.Helper()
	sub := filepath.Join(dir, name)
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50 && os.Remove(sub) != nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	id, err := CgroupID(sub)
	if err != nil {
		t.Fatal(err)
	}
	return sub, id
}

// TestNestedCgroups: a process in a sub-cgroup of a watched cgroup (a
// container that makes cgroups of its own: systemd inside, Docker in
// Docker) is reported under the watched cgroup's id, and its capability
// use is recorded there; when the sub-cgroup is watched too, the nearest
// watched one names it.
func TestNestedCgroups(t *testing.T) {
	s := openSource(t)
	dir, id := tempCgroup(t)
	inner, _ := subCgroup(t, dir, "inner")
	deep, deepID := subCgroup(t, inner, "deep")
	if err := s.Watch(id); err != nil {
		t.Fatal(err)
	}
	pid := runIn(t, deep, "/bin/hostname", hostname(t))
	evs := collect(t, s, 300*time.Millisecond)
	execs := find(evs, KindExec, pid)
	if len(execs) != 1 || execs[0].CgroupID != id {
		t.Fatalf("exec in a sub-sub-cgroup of the watched one: %v, want one event under cgroup %d", execs, id)
	}
	if c, ok := s.UsedCaps(id); !ok || c.Used != 1<<unix.CAP_SYS_ADMIN {
		t.Errorf("capability use in the sub-cgroup recorded as %#x (%v), want CAP_SYS_ADMIN on the watched cgroup", c.Used, ok)
	}
	if err := s.Watch(deepID); err != nil {
		t.Fatal(err)
	}
	pid = runIn(t, deep, "/bin/true")
	execs = find(collect(t, s, 300*time.Millisecond), KindExec, pid)
	if len(execs) != 1 || execs[0].CgroupID != deepID {
		t.Fatalf("exec in a watched cgroup inside a watched one: %v, want it under the nearest (%d)", execs, deepID)
	}
}

func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
