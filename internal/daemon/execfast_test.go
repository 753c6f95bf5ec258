package daemon

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/monitor/bpfevents"
	"github.com/confinehq/confine/monitor/proc"
	"github.com/confinehq/confine/profiles"
)

// fastContainer is a container whose decision is the profile, with its
// exec set built from this process's root (/proc/self/root is "/").
func fastContainer(t *testing.T, yaml string) (*watchedCgroup, *decision) {
	t.Helper()
	r, err := profiles.Parse([]byte(yaml), "test.yaml", profiles.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := newChecker(r.Profile)
	if err != nil {
		t.Fatal(err)
	}
	dec := &decision{Profile: r.Profile, checker: ch}
	c := &container{Namespace: "ns", ID: "id"}
	c.dec.Store(dec)
	w := &watchedCgroup{c: c}
	refreshExecSet(hostProc(t), w, os.Getpid())
	return w, dec
}

func TestJudgeFromEvent(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	stat := func(p string) (uint64, uint64) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Dev, st.Ino
	}
	dev, ino := stat(bin)
	odev, oino := stat(other)
	profile := func(mode string) string {
		return "apiVersion: confine/v1\nname: p\nmode: " + mode + "\nexec:\n  allow: [\"" + bin + "\", \"" + link + "\", \"" + dir + "/*.sh\"]\n" +
			"privileges:\n  allowRoot: false\n  capabilities: [CHOWN]\n"
	}
	allowed := bpfevents.Event{Kind: bpfevents.KindExec, TGID: 7, PID: 7, Full: true, Filename: bin, ExeDev: dev, ExeIno: ino, UID: 1000, EUID: 1000, SUID: 1000, FSUID: 1000, CapEff: 1}
	for _, tc := range []struct {
		name string
		mode string
		edit func(*bpfevents.Event)
		want bool
	}{
		{name: "allowed file under its allowed name", mode: "enforce", want: true},
		{name: "monitor mode too", mode: "monitor", want: true},
		{name: "learn mode records from /proc", mode: "learn"},
		{name: "another file (a copy, a replaced file)", mode: "enforce", edit: func(e *bpfevents.Event) { e.ExeDev, e.ExeIno = odev, oino }},
		{name: "the allowed file under a name exec.allow lacks", mode: "enforce", edit: func(e *bpfevents.Event) { e.Filename = filepath.Join(dir, "hardlink") }},
		{name: "a symlink's target is not what its name allows", mode: "enforce", edit: func(e *bpfevents.Event) { e.Filename, e.ExeDev, e.ExeIno = link, odev, oino }},
		{name: "relative filename", mode: "enforce", edit: func(e *bpfevents.Event) { e.Filename = "bin" }},
		{name: "filename not clean", mode: "enforce", edit: func(e *bpfevents.Event) { e.Filename = dir + "/./bin" }},
		{name: "no CO-RE fields", mode: "enforce", edit: func(e *bpfevents.Event) { e.Full, e.ExeIno = false, 0 }},
		{name: "effective uid 0", mode: "enforce", edit: func(e *bpfevents.Event) { e.EUID = 0 }},
		{name: "saved uid 0", mode: "enforce", edit: func(e *bpfevents.Event) { e.SUID = 0 }},
		{name: "a capability beyond the profile's", mode: "enforce", edit: func(e *bpfevents.Event) { e.CapEff |= 1 << 21 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := fastContainer(t, profile(tc.mode))
			ev := allowed
			if tc.edit != nil {
				tc.edit(&ev)
			}
			if got := judgeFromEvent(w, ev); got != tc.want {
				t.Errorf("judgeFromEvent = %v, want %v (set %v)", got, tc.want, w.fast)
			}
		})
	}

	t.Run("a new decision is not judged with the old one's set", func(t *testing.T) {
		w, _ := fastContainer(t, profile("enforce"))
		old := w.fast
		w.c.dec.Store(&decision{Profile: old.dec.Profile, checker: old.dec.checker})
		if judgeFromEvent(w, allowed) {
			t.Fatal("judged from the event with the set of a replaced decision")
		}
		refreshExecSet(hostProc(t), w, os.Getpid())
		if !judgeFromEvent(w, allowed) {
			t.Fatal("not judged from the event after the set was rebuilt")
		}
	})
	t.Run("killed container", func(t *testing.T) {
		w, _ := fastContainer(t, profile("enforce"))
		w.c.killed.Store(true)
		if judgeFromEvent(w, allowed) {
			t.Fatal("judged an exec of a killed container")
		}
	})
	t.Run("the set holds only literal, symlink-free regular files", func(t *testing.T) {
		w, _ := fastContainer(t, profile("enforce"))
		if len(w.fast.inodes) != 1 || !w.fast.inodes[devIno{dev, ino}] {
			t.Fatalf("inode set %v, want only %s", w.fast.inodes, bin)
		}
	})
}

// hostProc is the host's /proc.
func hostProc(t *testing.T) proc.FS {
	t.Helper()
	fs, err := proc.NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	return fs
}
