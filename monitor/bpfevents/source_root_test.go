package bpfevents

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/testbed"
	"golang.org/x/sys/unix"
)

// unifiedRoot is where the cgroup v2 hierarchy is mounted: the hybrid
// layout's "unified", or /sys/fs/cgroup itself on a pure v2 host.
func unifiedRoot(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var st unix.Statfs_t
		if unix.Statfs(d, &st) == nil && st.Type == cgroup2SuperMagic {
			return d
		}
	}
	t.Fatal("no cgroup v2 hierarchy under /sys/fs/cgroup (mount one: mount -t cgroup2 none /sys/fs/cgroup/unified)")
	return ""
}

// tempCgroup creates a v2 cgroup for the test and removes it at cleanup.
func tempCgroup(t *testing.T) (dir string, id uint64) {
	t.Helper()
	dir = filepath.Join(unifiedRoot(t), testbed.UniqueID("confine-bpf"))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if os.Remove(dir) == nil || os.IsNotExist(os.Remove(dir)) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("removing cgroup %s", dir)
	})
	id, err := CgroupID(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, id
}

func openSource(t *testing.T, opts ...Option) *Source {
	t.Helper()
	testbed.RequiresRoot(t)
	s, err := Open(context.Background(), opts...)
	if err != nil {
		t.Fatalf("loading the bpf programs: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// runIn runs argv with its process placed in the cgroup dir from its
// creation (CLONE_INTO_CGROUP) and returns its pid.
func runIn(t *testing.T, dir string, argv ...string) int {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	if dir != "" {
		fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", argv, err, out)
	}
	return cmd.ProcessState.Pid()
}

// collect gathers events until the source is quiet for a moment.
func collect(t *testing.T, s *Source, quiet time.Duration) []Event {
	t.Helper()
	var evs []Event
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("events closed: %v", s.Err())
			}
			evs = append(evs, ev)
		case <-time.After(quiet):
			return evs
		}
	}
}

// find returns the events of one kind about pid (the TGID, or the child
// of a fork).
func find(evs []Event, kind Kind, pid int) []Event {
	var out []Event
	for _, e := range evs {
		if e.Kind == kind && (e.TGID == pid || (kind == KindFork && e.Child == pid)) {
			out = append(out, e)
		}
	}
	return out
}

func TestWatchedCgroupEvents(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		full bool
	}{
		{name: "with BTF (CO-RE)", full: true},
		{name: "tracepoint fields only", opts: []Option{WithoutCORE()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openSource(t, tc.opts...)
			if s.Full() != tc.full {
				t.Fatalf("Full() = %v, want %v (is /sys/kernel/btf/vmlinux there?)", s.Full(), tc.full)
			}
			dir, id := tempCgroup(t)
			if err := s.Watch(id); err != nil {
				t.Fatal(err)
			}
			host := runIn(t, "", "/bin/true")
			sh := runIn(t, dir, "/bin/sh", "-c", "/bin/true; setpriv --reuid 1234 --regid 4321 --clear-groups /bin/true; exit 0")
			evs := collect(t, s, 300*time.Millisecond)
			for _, e := range evs {
				if e.CgroupID != id {
					t.Errorf("event from cgroup %d, only %d is watched: %v", e.CgroupID, id, e)
				}
				if e.TGID == host || e.Child == host {
					t.Errorf("event about a host process outside the watched cgroup: %v", e)
				}
			}
			execs := find(evs, KindExec, sh)
			if len(execs) != 1 || execs[0].Filename != "/bin/sh" {
				t.Fatalf("exec events of the shell %d: %v (all: %v)", sh, execs, evs)
			}
			e := execs[0]
			var st unix.Stat_t
			if err := unix.Stat("/bin/sh", &st); err != nil {
				t.Fatal(err)
			}
			if tc.full {
				if e.ExeIno != st.Ino || e.ExeDev != st.Dev {
					t.Errorf("exe dev/ino = %#x/%d, stat of /bin/sh says %#x/%d", e.ExeDev, e.ExeIno, st.Dev, st.Ino)
				}
				var now unix.Timespec
				if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &now); err != nil {
					t.Fatal(err)
				}
				if e.StartTime == 0 || e.StartTime > time.Duration(now.Nano()) {
					t.Errorf("start time %v, now %v", e.StartTime, time.Duration(now.Nano()))
				}
				// The shell runs as root with this test's capabilities.
				if want := ownCapEff(t); e.CapEff != want || e.EUID != 0 || e.SUID != 0 || e.FSUID != 0 {
					t.Errorf("exec of a root shell: CapEff %#x (want %#x), euid/suid/fsuid %d/%d/%d", e.CapEff, want, e.EUID, e.SUID, e.FSUID)
				}
			} else if e.Full || e.ExeIno != 0 || e.StartTime != 0 {
				t.Errorf("an event without CO-RE carries task fields: %#v", e)
			}
			var children []int
			for _, f := range evs {
				if f.Kind == KindFork && f.ParentTGID == sh {
					children = append(children, f.Child)
				}
			}
			if len(children) < 2 {
				t.Fatalf("fork events of the shell: children %v (all: %v)", children, evs)
			}
			var sawTrue, sawUID, sawGID bool
			for _, c := range children {
				for _, x := range find(evs, KindExec, c) {
					sawTrue = sawTrue || x.Filename == "/bin/true"
				}
				for _, x := range find(evs, KindUID, c) {
					sawUID = sawUID || x.UID == 1234 && (!tc.full || x.EUID == 1234 && x.SUID == 1234 && x.FSUID == 1234)
				}
				for _, x := range find(evs, KindGID, c) {
					sawGID = sawGID || x.GID == 4321
				}
			}
			if !sawTrue || !sawUID || !sawGID {
				t.Errorf("exec of /bin/true %v, uid change %v, gid change %v in %v", sawTrue, sawUID, sawGID, evs)
			}
			if len(find(evs, KindExit, sh)) != 1 {
				t.Errorf("no exit event of the shell %d in %v", sh, evs)
			}
		})
	}
}

func TestForgetStopsEvents(t *testing.T) {
	s := openSource(t, WithoutCaps())
	dir, id := tempCgroup(t)
	if err := s.Watch(id); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(id); err != nil {
		t.Fatal(err)
	}
	runIn(t, dir, "/bin/true")
	if evs := collect(t, s, 200*time.Millisecond); len(evs) != 0 {
		t.Fatalf("events of a forgotten cgroup: %v", evs)
	}
	if _, ok := s.UsedCaps(id); ok {
		t.Errorf("UsedCaps answers without the recorder")
	}
}

func TestCapabilityRecorder(t *testing.T) {
	s := openSource(t)
	dir, id := tempCgroup(t)
	if err := s.Watch(id); err != nil {
		t.Fatal(err)
	}
	// A directory every user may search: t.TempDir's parent is not.
	tmp, err := os.MkdirTemp("", "confine-bpf-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	f := filepath.Join(tmp, "f")
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// chown to another user needs CAP_CHOWN (0); an unprivileged chown is
	// refused it.
	runIn(t, dir, "/bin/chown", "1234", f)
	runIn(t, dir, "/bin/sh", "-c", "setpriv --reuid 1234 --clear-groups chown 0 "+f+" 2>/dev/null; exit 0")
	c, ok := s.UsedCaps(id)
	if !ok {
		t.Fatal("no capability record for the watched cgroup")
	}
	const capChown = 1 << unix.CAP_CHOWN
	if c.Used&capChown == 0 || c.Denied&capChown == 0 {
		t.Errorf("CAP_CHOWN used %v, denied %v; want both (used %#x denied %#x)", c.Used&capChown != 0, c.Denied&capChown != 0, c.Used, c.Denied)
	}
	if _, ok := s.UsedCaps(id + 1_000_000); ok {
		t.Errorf("UsedCaps answers for an unwatched cgroup")
	}
}

// TestLossReported fills a one-page ring buffer while nothing reads the
// events channel: the kernel counts the loss and the source reports it.
func TestLossReported(t *testing.T) {
	s := openSource(t, WithRingBuffer(uint32(os.Getpagesize())), WithChannelSize(1), WithoutCaps())
	dir, id := tempCgroup(t)
	if err := s.Watch(id); err != nil {
		t.Fatal(err)
	}
	runIn(t, dir, "/bin/sh", "-c", "for i in $(seq 100); do /bin/true; done")
	var lost uint64
	for _, e := range collect(t, s, 500*time.Millisecond) {
		if e.Kind == KindLost {
			lost += e.Lost
		}
	}
	if lost == 0 || s.Lost() != lost {
		t.Fatalf("lost events reported %d, Lost() %d: want the same, non-zero", lost, s.Lost())
	}
}

// ownCapEff is this process's effective capability set (/proc/self/status).
func ownCapEff(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return 0
}
