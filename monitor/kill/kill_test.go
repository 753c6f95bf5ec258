package kill

import (
	"github.com/confinehq/confine/internal/testbed"

	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/monitor/proc"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	// Processes forked by the shells the tests start are orphaned when the
	// shells die; PID 1 on the test machines does not reap, so adopt them
	// and reap them here.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	os.Exit(m.Run())
}

// hierarchy returns the mount point of a real cgroup hierarchy: "v2" is the
// cgroup2 mount (hybrid "unified", or the root on pure v2), anything else a
// v1 controller.
func hierarchy(t testing.TB, which string) string {
	t.Helper()
	var h string
	switch {
	case which == "v2" && exists(filepath.Join(DefaultCgroupRoot, "cgroup.controllers")):
		h = DefaultCgroupRoot
	case which == "v2":
		h = filepath.Join(DefaultCgroupRoot, "unified")
	default:
		h = filepath.Join(DefaultCgroupRoot, which)
	}
	if !exists(filepath.Join(h, "cgroup.procs")) {
		if which == "v2" {
			t.Fatalf("no cgroup v2 hierarchy at %s: mount cgroup2 there (mount -t cgroup2 none %s)", h, h)
		}
		t.Skipf("no cgroup v1 %s hierarchy on this host", which)
	}
	return h
}

// newCgroup creates a test cgroup under parent and removes it at cleanup,
// killing whatever is left in it first.
func newCgroup(t testing.TB, parent string) string {
	t.Helper()
	dir := filepath.Join(parent, fmt.Sprintf("confine-test-%08x", rand.Uint32()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("creating test cgroup: %v", err)
	}
	t.Cleanup(func() { removeCgroup(t, dir) })
	return dir
}

func removeCgroup(t testing.TB, dir string) {
	t.Helper()
	if !exists(dir) {
		return
	}
	if pids, _ := procsTree(dir); len(pids) > 0 {
		_ = killCgroup(dir, true)
	}
	deadline := time.Now().Add(testbed.Bound)
	for {
		err := removeTree(dir)
		if err == nil || notExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("removing test cgroup %s: %v", dir, err)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// removeTree removes a cgroup and its children, deepest first (cgroupfs
// directories are removed with rmdir, never with their files).
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return unix.Rmdir(dir)
}

// child is a process started for a test, reaped at cleanup.
type child struct {
	pid int
	cmd *exec.Cmd // nil for a grandchild adopted through the subreaper
	st  uint64    // start time, when a benchmark needs it
}

func (p child) startTime() uint64 { return p.st }

// startSleeps starts n `sleep` processes and moves each into cgroup dir by
// writing its pid to cgroup.procs.
func startSleeps(t testing.TB, dir string, n int) []child {
	t.Helper()
	var ps []child
	for i := 0; i < n; i++ {
		cmd := exec.Command("sleep", "1000")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, child{pid: cmd.Process.Pid, cmd: cmd})
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		moveTo(t, dir, cmd.Process.Pid)
	}
	return ps
}

func moveTo(t testing.TB, dir string, pid int) {
	t.Helper()
	if err := writeCgroupFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
		t.Fatalf("moving pid %d into %s: %v", pid, dir, err)
	}
}

// startTree starts a shell in cgroup dir that forks two sleeps once it is
// in there; it returns the shell and its children (which are not this
// process's children).
func startTree(t testing.TB, dir string) []child {
	t.Helper()
	cmd := exec.Command("sh", "-c", "read go; sleep 1000 & sleep 1000 & echo started; wait")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	moveTo(t, dir, cmd.Process.Pid)
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("shell in %s did not start its children: %q %v", dir, line, err)
	}
	ps := []child{{pid: cmd.Process.Pid, cmd: cmd}}
	kids, err := procsTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	children, err := parsePids(bytesToLines(b))
	if err != nil || len(children) != 2 {
		t.Fatalf("children of the shell: %v %v", children, err)
	}
	for _, c := range children {
		if !slices.Contains(kids, c) {
			t.Fatalf("child %d of the shell not in cgroup %s (%v)", c, dir, kids)
		}
		ps = append(ps, child{pid: c})
	}
	return ps
}

// bytesToLines turns the space-separated list of /proc/PID/task/TID/children
// into the one-a-line form of cgroup.procs.
func bytesToLines(b []byte) []byte {
	out := slices.Clone(b)
	for i, c := range out {
		if c == ' ' {
			out[i] = '\n'
		}
	}
	return out
}

// reapKilled waits for every process and checks it died of SIGKILL, so no
// zombie is left behind.
func reapKilled(t testing.TB, ps []child) {
	t.Helper()
	for _, p := range ps {
		var ws unix.WaitStatus
		if p.cmd != nil {
			err := p.cmd.Wait()
			if err == nil {
				t.Errorf("pid %d exited normally", p.pid)
				continue
			}
			ws = unix.WaitStatus(p.cmd.ProcessState.Sys().(syscall.WaitStatus))
		} else {
			for {
				_, err := unix.Wait4(p.pid, &ws, 0, nil)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					t.Errorf("reaping pid %d: %v", p.pid, err)
				}
				break
			}
		}
		if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
			t.Errorf("pid %d: wait status %#x, want killed by SIGKILL", p.pid, uint32(ws))
		}
	}
}

func waitEmpty(t testing.TB, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testbed.Bound)
	defer cancel()
	if err := Wait(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if pids, err := procsTree(dir); err != nil || len(pids) != 0 {
		t.Fatalf("cgroup %s after kill: pids %v, err %v", dir, pids, err)
	}
}

func TestKillCgroup(t *testing.T) {
	testbed.RequiresRoot(t)
	tests := []struct {
		name        string
		hierarchy   string
		useKillFile bool
		nested      bool
	}{
		{name: "v2 cgroup.kill", hierarchy: "v2", useKillFile: true, nested: true},
		{name: "v2 freeze and pidfds", hierarchy: "v2", nested: true},
		{name: "v1 freezer and pidfds", hierarchy: "freezer", useKillFile: true, nested: true},
		{name: "v1 without freezer, pidfd sweeps", hierarchy: "pids", useKillFile: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newCgroup(t, hierarchy(t, tt.hierarchy))
			ps := startSleeps(t, dir, 3)
			ps = append(ps, startTree(t, dir)...)
			if tt.nested {
				sub := filepath.Join(dir, "nested")
				if err := os.Mkdir(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				ps = append(ps, startSleeps(t, sub, 2)...)
			}
			if err := killCgroup(dir, tt.useKillFile); err != nil {
				t.Fatalf("killing %s: %v", dir, err)
			}
			waitEmpty(t, dir)
			reapKilled(t, ps)
			for _, f := range []string{"cgroup.freeze", "freezer.state"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					if s := string(b); s != "0\n" && s != "THAWED\n" {
						t.Errorf("%s left %q", f, s)
					}
				}
			}
		})
	}
}

func TestKillCgroupRefuses(t *testing.T) {
	fake := t.TempDir()
	// A directory that looks like a hierarchy root: cgroup.procs, but no
	// cgroup above it.
	if err := os.WriteFile(filepath.Join(fake, "cgroup.procs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(fake, "c")
	if err := os.Mkdir(child, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(child, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same with a freezer: it must refuse before freezing itself.
	frozenChild := filepath.Join(fake, "f")
	if err := os.Mkdir(frozenChild, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"cgroup.procs": strconv.Itoa(os.Getpid()) + "\n", "cgroup.freeze": "0\n"} {
		if err := os.WriteFile(filepath.Join(frozenChild, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if b, _ := os.ReadFile(filepath.Join(frozenChild, "cgroup.freeze")); string(b) != "0\n" {
			t.Errorf("cgroup.freeze written: %q", b)
		}
	})
	tests := []struct {
		name    string
		path    string
		wantErr error
		wantMsg string
	}{
		{name: "missing cgroup", path: filepath.Join(fake, "nope"), wantErr: ErrNoCgroup},
		{name: "hierarchy root", path: fake, wantMsg: "refusing to kill a hierarchy root"},
		{name: "this process inside", path: child, wantMsg: "this process"},
		{name: "this process inside a freezable cgroup", path: frozenChild, wantMsg: "this process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := KillCgroup(tt.path)
			if err == nil {
				t.Fatal("KillCgroup succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func startTimeOf(t testing.TB, pid int) uint64 {
	t.Helper()
	fs, err := proc.NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	p, err := fs.Proc(pid)
	if err != nil {
		t.Fatal(err)
	}
	return p.Key().StartTime
}

func TestKillPidfd(t *testing.T) {
	testbed.RequiresRoot(t)
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	st := startTimeOf(t, pid)

	if err := KillPidfd(hostProc(t), pid, st+1); !errors.Is(err, ErrPidReused) {
		t.Fatalf("KillPidfd with a wrong start time: %v, want ErrPidReused", err)
	}
	if err := unix.Kill(pid, 0); err != nil {
		t.Fatalf("process %d not alive after a refused kill: %v", pid, err)
	}
	if err := KillPidfd(hostProc(t), pid, st); err != nil {
		t.Fatalf("KillPidfd: %v", err)
	}
	reapKilled(t, []child{{pid: pid, cmd: cmd}})
	if err := KillPidfd(hostProc(t), pid, st); !errors.Is(err, ErrNoProcess) && !errors.Is(err, ErrPidReused) {
		t.Fatalf("KillPidfd after reaping: %v, want ErrNoProcess", err)
	}
	if err := KillPidfd(hostProc(t), 0, 1); err == nil {
		t.Fatal("KillPidfd(0) succeeded")
	}
}

// BenchmarkKill measures the time from the kill call to an empty cgroup
// (every process dead) for a cgroup of 5 sleeps, by each method.
func BenchmarkKill(b *testing.B) {
	testbed.RequiresRoot(b)
	methods := []struct {
		name      string
		hierarchy string
		kill      func(dir string, ps []child) error
	}{
		{"cgroup.kill", "v2", func(dir string, _ []child) error { return KillCgroup(dir) }},
		{"v2-freeze+pidfds", "v2", func(dir string, _ []child) error { return killCgroup(dir, false) }},
		{"v1-freezer+pidfds", "freezer", func(dir string, _ []child) error { return KillCgroup(dir) }},
		{"pidfd-each", "v2", func(_ string, ps []child) error {
			for _, p := range ps {
				if err := KillPidfd(hostProc(b), p.pid, p.startTime()); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, m := range methods {
		b.Run(m.name, func(b *testing.B) {
			h := hierarchy(b, m.hierarchy)
			var signal, dead time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := filepath.Join(h, fmt.Sprintf("confine-bench-%08x", rand.Uint32()))
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { removeCgroup(b, dir) })
				ps := startSleeps(b, dir, 5)
				for j := range ps {
					ps[j].st = startTimeOf(b, ps[j].pid)
				}
				b.StartTimer()
				t0 := time.Now()
				if err := m.kill(dir, ps); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := Wait(context.Background(), dir); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				b.StopTimer()
				signal += t1.Sub(t0)
				dead += t2.Sub(t0)
				reapKilled(b, ps)
				if err := unix.Rmdir(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(signal.Nanoseconds())/float64(b.N)/1e3, "µs-signalled/op")
			b.ReportMetric(float64(dead.Nanoseconds())/float64(b.N)/1e3, "µs-empty/op")
		})
	}
}

// hostProc is the host's /proc.
func hostProc(t testing.TB) proc.FS {
	t.Helper()
	fs, err := proc.NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	return fs
}
