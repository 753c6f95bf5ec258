package bpfevents

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCapabilityRecorderUseOnly: what the recorder keeps is the
// workload's own use. A root shell that maps memory (every mmap and brk
// probes CAP_SYS_ADMIN for the admin reserve) records nothing; runc's init
// (a task named "runc:[...") records nothing; sethostname and a chown to
// another user, the workload's own, are recorded.
func TestCapabilityRecorderUseOnly(t *testing.T) {
	s := openSource(t)
	if on, why := s.Caps(); !on {
		t.Fatalf("capability recorder not attached: %s", why)
	}
	const sysAdmin, chown = 1 << unix.CAP_SYS_ADMIN, 1 << unix.CAP_CHOWN
	tmp, err := os.MkdirTemp("", "confine-bpf-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	f := filepath.Join(tmp, "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// coreutils' chown run through a link named as runc's init names
	// itself: the task's comm is the link's name.
	runcInit := filepath.Join(tmp, "runc:[2:INIT]")
	if err := os.Symlink("/bin/chown", runcInit); err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		argv []string
		want uint64
	}{
		{name: "memory-hungry root shell", argv: []string{"/bin/sh", "-c", "x=$(seq 20000); ls -l /usr/lib /etc >/dev/null 2>&1; echo $x | wc -c >/dev/null"}, want: 0},
		{name: "runc's init", argv: []string{runcInit, "1234", f}, want: 0},
		{name: "sethostname", argv: []string{"/bin/hostname", host}, want: sysAdmin},
		{name: "chown to another user", argv: []string{"/bin/chown", "4321", f}, want: chown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, id := tempCgroup(t)
			if err := s.Watch(id); err != nil {
				t.Fatal(err)
			}
			defer s.Forget(id)
			runIn(t, dir, tc.argv...)
			c, ok := s.UsedCaps(id)
			if !ok {
				t.Fatal("no capability record for the watched cgroup")
			}
			if c.Used != tc.want {
				t.Errorf("used %#x, want %#x", c.Used, tc.want)
			}
		})
	}
}
