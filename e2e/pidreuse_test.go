package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/monitor/proc"
)

// TestPIDReuse: a process of container A execs a forbidden binary and is
// gone before confined reads the exec event; its PID now belongs to an
// allowed process of container B. confined must judge neither B nor A by
// the newcomer: B keeps running, no alert names B's process. The delay is
// made real by stopping confined (SIGSTOP) while the kernel queues its
// events, and the PID is handed over with /proc/sys/kernel/ns_last_pid.
// The fanotify guard and Landlock are off: they would deny A's exec
// before it happens.
func TestPIDReuse(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteConfig(t, "landlock = false\nfanotify_guard = false")
	bed.WriteProfile(t, "pra", "apiVersion: confine/v1\nname: pra\nmode: enforce\nexec:\n  allow: [\"/bin/busybox\"]\nonViolation: kill\n")
	bed.WriteProfile(t, "prb", "apiVersion: confine/v1\nname: prb\nmode: enforce\nexec:\n  allow: [\"/bin/busybox\", \"/tmp/b/**\"]\nonViolation: kill\n")
	c := bed.StartConfined(t)
	stopped := false
	t.Cleanup(func() {
		if stopped {
			_ = c.Cmd.Process.Signal(syscall.SIGCONT)
		}
	})

	shared := filepath.Join(bed.Dir, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a", "a2", "b"} {
		if err := unix.Mkfifo(filepath.Join(shared, f), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	mount := []testbed.Mount{{Source: shared, Destination: "/shared"}}
	// A: each line on /shared/a forks a subshell that waits for /shared/a2,
	// then execs a copy of busybox its profile does not allow. (A SIGCHLD
	// interrupts the shell's open of the FIFO: hence "|| continue".)
	idA, idB := testbed.UniqueID("pra"), testbed.UniqueID("prb")
	ra, err := bed.Start(context.Background(), testbed.RunOptions{ID: idA, Runtime: bed.Runc, Mounts: mount,
		Labels: map[string]string{"confine.profile": "pra"},
		Args: []string{"sh", "-c", `mkdir -p /tmp/a && cp /bin/busybox /tmp/a/busybox
while :; do read x < /shared/a || continue; ( read y < /shared/a2; exec /tmp/a/busybox sleep 600 ) & done`}})
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	// B: each line on /shared/b forks a process running a copy of busybox
	// its profile allows.
	rb, err := bed.Start(context.Background(), testbed.RunOptions{ID: idB, Runtime: bed.Runc, Mounts: mount,
		Labels: map[string]string{"confine.profile": "prb"},
		Args: []string{"sh", "-c", `mkdir -p /tmp/b && cp /bin/busybox /tmp/b/busybox
while :; do read x < /shared/b || continue; /tmp/b/busybox sleep 600 & done`}})
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	waitWatched(t, c, bed.Namespace, idA)
	waitWatched(t, c, bed.Namespace, idB)

	src := os.Getenv(e2e.ProcessEventsEnv)
	bpf := src == "" || src == "auto" || src == "bpf"
	var reused proc.Key
	for round := 1; round <= 5 && reused.PID == 0; round++ {
		// The first subshell is forked while confined runs: it knows the
		// PID as A's from the fork event.
		before := containerProcs(t, idA)
		fifoLine(t, filepath.Join(shared, "a"))
		sub := waitNewProc(t, idA, before, "")
		if !stopped {
			time.Sleep(300 * time.Millisecond) // confined reads the fork event
			if err := c.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			stopped = true
		}
		fifoLine(t, filepath.Join(shared, "a2"))
		victim := waitExe(t, sub, "/tmp/a/busybox")
		time.Sleep(50 * time.Millisecond) // several clock ticks between the exec and the next process
		killAndReap(t, victim)

		// Hand victim.PID to B's next process; another process of the host
		// may take it first, then try again.
		for try := 0; try < 30; try++ {
			if _, err := hostProc(t).Proc(victim.PID); err == nil {
				break // taken by someone else: next round
			}
			beforeB := containerProcs(t, idB)
			if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(victim.PID-1)), 0o644); err != nil {
				t.Fatal(err)
			}
			fifoLine(t, filepath.Join(shared, "b"))
			got := waitNewProc(t, idB, beforeB, "/tmp/b/busybox")
			if got.PID == victim.PID {
				reused = got
				break
			}
		}
		if reused.PID == 0 {
			t.Logf("round %d: pid %d was not handed to B; trying again", round, victim.PID)
		}
		// With BPF events confined judges A's exec from the event and kills
		// A as soon as it runs again: A would not be there for another
		// round, so confined stays stopped until the hand-over worked (its
		// ring buffer keeps the events). The proc connector drops the stale
		// exec instead, and A stays.
		if reused.PID != 0 || !bpf {
			if err := c.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			stopped = false
		}
	}
	if stopped {
		if err := c.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		stopped = false
	}
	if reused.PID == 0 {
		t.Fatal("could not make B's process take the PID of A's in 5 rounds")
	}
	t.Logf("pid %d: A's /tmp/a/busybox, then B's /tmp/b/busybox (start %d)", reused.PID, reused.StartTime)

	if bpf {
		// BPF events carry the process's own identity (the execve
		// filename, resolved in A's root, with the executable's device and
		// inode): the stale exec is judged as A's, without reading B's
		// process. A is killed for what A did; B is untouched.
		a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": idA, "event": "kill", "rule": "exec"})
		if fmt.Sprint(a["exe"]) != "/tmp/a/busybox" {
			t.Errorf("A's kill names exe %v, want /tmp/a/busybox", a["exe"])
		}
	} else {
		pidReuseSentinel(t, bed, shared, idA, reused)
	}
	if got := bed.FindAlerts(t, map[string]string{"container_id": idB}); len(got) != 0 {
		t.Errorf("alerts about B, whose process only took over a PID: %v", got)
	}
	for _, al := range bed.Alerts(t) {
		if fmt.Sprint(al["exe"]) == "/tmp/b/busybox" {
			t.Errorf("an alert names B's executable: %v", al)
		}
	}
	if !alive(t, reused) {
		t.Errorf("B's process %s is gone", reused)
	}
	if _, exited := waitExit(t, rb, time.Second); exited {
		t.Error("B was killed")
	}
}

// pidReuseSentinel: with the proc connector, the stale exec event cannot
// be tied to A's process any more and is dropped. A sentinel after the
// reuse: A execs the forbidden binary again and is killed for it. Events
// are read in order, so once its alert is out, the stale exec event has
// been judged.
func pidReuseSentinel(t *testing.T, bed *e2e.Bed, shared, idA string, reused proc.Key) {
	t.Helper()
	if err := writeFifo(filepath.Join(shared, "a")); err != nil {
		t.Fatalf("A is not there for the sentinel (%v); alerts: %v", err, bed.Alerts(t))
	}
	time.Sleep(300 * time.Millisecond)
	fifoLine(t, filepath.Join(shared, "a2"))
	a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": idA, "event": "kill", "rule": "exec"})
	if fmt.Sprint(a["exe"]) != "/tmp/a/busybox" || fmt.Sprint(a["pid"]) == strconv.Itoa(reused.PID) {
		t.Errorf("A's kill names exe %v pid %v; want /tmp/a/busybox of a process other than %d", a["exe"], a["pid"], reused.PID)
	}
}

// hostProc is /proc of the host, read with confine's own parser.
func hostProc(t *testing.T) proc.FS {
	t.Helper()
	fs, err := proc.NewFS("/proc")
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// alive reports whether the process k names still exists.
func alive(t *testing.T, k proc.Key) bool {
	_, err := hostProc(t).ProcKey(k)
	return err == nil
}

// containerProcs lists the host processes whose cgroup is the container's.
func containerProcs(t *testing.T, id string) map[proc.Key]bool {
	t.Helper()
	fs := hostProc(t)
	pids, err := fs.AllPIDs()
	if err != nil {
		t.Fatal(err)
	}
	out := map[proc.Key]bool{}
	for _, pid := range pids {
		p, err := fs.Proc(pid)
		if err != nil {
			continue
		}
		lines, err := p.Cgroup()
		if err != nil {
			continue
		}
		if _, cid, ok := proc.ContainerFromCgroup(lines); ok && cid == id {
			out[p.Key()] = true
		}
	}
	return out
}

// runs reports whether the process k names runs exe.
func runs(t *testing.T, k proc.Key, exe string) bool {
	p, err := hostProc(t).ProcKey(k)
	if err != nil {
		return false
	}
	e, err := p.Exe()
	return err == nil && e.Path == exe
}

// waitNewProc waits for a process of the container that is not in before
// (and, when exe is set, runs exe).
func waitNewProc(t *testing.T, id string, before map[proc.Key]bool, exe string) proc.Key {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for k := range containerProcs(t, id) {
			if !before[k] && (exe == "" || runs(t, k, exe)) {
				return k
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no new process in %s running %q", id, exe)
	return proc.Key{}
}

// waitExe waits until k runs exe.
func waitExe(t *testing.T, k proc.Key, exe string) proc.Key {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if runs(t, k, exe) {
			return k
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("process %s never ran %s", k, exe)
	return proc.Key{}
}

// killAndReap kills k through a pidfd checked against its start time and
// waits until its parent has reaped it.
func killAndReap(t *testing.T, k proc.Key) {
	t.Helper()
	fd, err := unix.PidfdOpen(k.PID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if !alive(t, k) {
		t.Fatalf("process %s changed before the kill", k)
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if !alive(t, k) {
			return // reaped (and perhaps taken already)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("process %s not reaped", k)
}

// fifoLine writes one line to a FIFO once a container has it open for
// reading (a FIFO keeps no data without a reader).
func fifoLine(t *testing.T, path string) {
	t.Helper()
	if err := writeFifo(path); err != nil {
		t.Fatal(err)
	}
}

func writeFifo(path string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			_, err = unix.Write(fd, []byte("go\n"))
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
			return nil
		}
		if err != unix.ENXIO || time.Now().After(deadline) {
			return fmt.Errorf("opening %s: %w", path, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
