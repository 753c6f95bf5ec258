package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// landlockProfile restricts execution, reads and writes; the fanotify
// guard is off in these tests, so what is refused is refused by the
// kernel's Landlock (through confine-init).
const landlockProfile = `apiVersion: confine/v1
name: ll
mode: MODE
exec:
  allow: ["/bin/busybox"]
files:
  read: ["/bin/**", "/etc/passwd", "/etc/group", "/etc/hostname", "/www/**"]
  write: ["/tmp/**", "/dev/shm/**"]
onViolation: alert
`

// attacks are the file behaviours that must be refused, each printing
// REFUSED or DONE so the main process and exec sessions report alike.
// alert holds the fields of the alert each leaves: Landlock names the
// file for reads and execs, and the directory for a file created in it.
var landlockAttacks = []struct {
	name, script string
	alert        map[string]string
}{
	{"read /etc/shadow", `cat /etc/shadow`, map[string]string{"rule": "file", "path": "/etc/shadow"}},
	{"read /etc/shadow through ..", `cat /tmp/../etc/shadow`, map[string]string{"rule": "file", "path": "/etc/shadow"}},
	{"write /etc/x", `echo x > /etc/x`, map[string]string{"rule": "file", "path": "/etc"}},
	{"write /usr/bin/x", `echo x > /usr/bin/x`, map[string]string{"rule": "file", "path": "/usr/bin"}},
	{"write /root/x", `echo x > /root/x`, map[string]string{"rule": "file", "path": "/root"}},
	{"create /dev/x", `echo x > /dev/x`, map[string]string{"rule": "file", "path": "/dev"}},
	{"binary dropped in /tmp", `cp /bin/busybox /tmp/busybox && /tmp/busybox true`, map[string]string{"rule": "exec", "exe": "/tmp/busybox"}},
	{"script dropped in /tmp", `printf '#!/bin/sh\necho pwned\n' > /tmp/x.sh && chmod +x /tmp/x.sh && /tmp/x.sh`, map[string]string{"rule": "exec", "exe": "/tmp/x.sh"}},
	// /dev/shm is noexec in containerd's default spec: refused by the
	// mount before Landlock is asked, so there is no Landlock record.
	{"script dropped in /dev/shm", `printf '#!/bin/sh\necho pwned\n' > /dev/shm/x.sh && chmod +x /dev/shm/x.sh && /dev/shm/x.sh`, nil},
}

func attackScript() string {
	var b strings.Builder
	for i, a := range landlockAttacks {
		b.WriteString("if ( " + a.script + " ) >/dev/null 2>&1; then echo DONE" + itoa(i) + "; else echo REFUSED" + itoa(i) + "; fi; ")
	}
	return b.String()
}

func itoa(i int) string { return string(rune('a' + i)) }

// allowedScript is the workload the profile allows.
const allowedScript = `cat /etc/passwd >/dev/null && ls /www >/dev/null && echo ok > /tmp/ok && cat /tmp/ok && echo x > /dev/null && echo ALLOWED`

func checkRefused(t *testing.T, where, out string, wantRefused bool) {
	t.Helper()
	for i, a := range landlockAttacks {
		refused := strings.Contains(out, "REFUSED"+itoa(i))
		done := strings.Contains(out, "DONE"+itoa(i))
		if !refused && !done {
			t.Errorf("%s: %s: no result in %q", where, a.name, out)
			continue
		}
		if refused != wantRefused {
			t.Errorf("%s: %s: refused = %v, want %v", where, a.name, refused, wantRefused)
		}
	}
}

// startAttacked starts a container of profile "ll" that runs the allowed
// workload, then every attack, then prints END and sleeps.
func startAttacked(t *testing.T, bed *e2e.Bed, id string) *testbed.Running {
	t.Helper()
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc,
		Args:   []string{"sh", "-c", allowedScript + "; " + attackScript() + " echo END; sleep 300"},
		Labels: map[string]string{"confine.profile": "ll"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// attacksOutput is the container's output once it printed END (or after
// 30 s, when the checks name what is missing).
func attacksOutput(r *testbed.Running) string {
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.Stdout(), "END") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	return r.Stdout()
}

// TestLandlockRefusesWithoutFanotify is issue 17's "refused by the kernel":
// with the fanotify guard off, the container's own process and a `ctr
// task exec` session are refused reading /etc/shadow, writing below /etc,
// /usr/bin, /root, creating /dev/x and running dropped binaries and
// scripts; each Landlock denial is a "denied" alert with path, container
// and layer landlock. With confined SIGKILLed, the same is still refused.
func TestLandlockRefusesWithoutFanotify(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "ll", strings.Replace(landlockProfile, "MODE", "enforce", 1))
	bed.WriteConfig(t, "fanotify_guard = false")
	c := bed.StartConfined(t)
	id := testbed.UniqueID("ll")
	r := startAttacked(t, bed, id)
	defer r.Close()
	ct := waitWatched(t, c, bed.Namespace, id)
	out := attacksOutput(r)
	if !strings.Contains(out, "ALLOWED") {
		t.Fatalf("the allowed workload failed: %q %q", out, r.Stderr())
	}
	checkRefused(t, "container process", out, true)
	if !strings.Contains(strings.Join(ct.Notes, "\n"), "files: landlock ABI") {
		t.Errorf("confinectl ps does not say Landlock enforces files: %v", ct.Notes)
	}
	ct = waitWatched(t, c, bed.Namespace, id) // layers are complete once it runs
	if l, ok := layerOf(ct, "landlock"); !ok || !l.InForce || !strings.HasPrefix(l.Detail, "ABI ") || strings.Contains(l.Detail, "unreported") {
		t.Errorf("confinectl ps LAYERS: no reported Landlock layer in force: %+v", ct.Layers)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	exec := func(script string) string {
		res, err := r.Exec(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatalf("exec: %v", err)
		}
		return res.Stdout + res.Stderr
	}
	if out := exec(allowedScript); !strings.Contains(out, "ALLOWED") {
		t.Fatalf("the allowed workload failed in an exec session: %q", out)
	}
	checkRefused(t, "exec session", exec(attackScript()), true)

	for _, a := range landlockAttacks {
		if a.alert == nil {
			continue
		}
		want := map[string]string{"container_id": id, "action": "denied", "layer": "landlock"}
		for k, v := range a.alert {
			want[k] = v
		}
		bed.WaitAlert(t, 15*time.Second, want)
	}

	// confined dies: the kernel keeps refusing, in a new exec session too.
	c.Kill()
	checkRefused(t, "exec session without confined", exec(attackScript()), true)
	if out := exec(allowedScript); !strings.Contains(out, "ALLOWED") {
		t.Fatalf("the allowed workload failed without confined: %q", out)
	}
}

// TestLandlockMonitorModeAllows: the same profile in monitor mode injects
// no Landlock: everything runs, and the monitor reports the exec.
func TestLandlockMonitorModeAllows(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "ll", strings.Replace(landlockProfile, "MODE", "monitor", 1))
	bed.WriteConfig(t, "fanotify_guard = false")
	c := bed.StartConfined(t)
	id := testbed.UniqueID("llm")
	r := startAttacked(t, bed, id)
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	out := attacksOutput(r)
	// /dev/shm is noexec in containerd's default spec: that one is refused
	// by the mount, not by confine.
	for i, a := range landlockAttacks {
		if a.alert == nil {
			continue
		}
		if !strings.Contains(out, "DONE"+itoa(i)) {
			t.Errorf("monitor mode: %s was not allowed: %q", a.name, out)
		}
	}
	if strings.HasPrefix(r.Stdout(), "/.confine-init") {
		t.Error("confine-init in monitor mode")
	}
	bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "rule": "exec"})
}

// TestLandlockNativeSnapshotter: a rootfs that is not overlayfs (which the
// fanotify guard refuses) is protected by Landlock all the same.
func TestLandlockNativeSnapshotter(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "ll", strings.Replace(landlockProfile, "MODE", "enforce", 1))
	bed.WriteConfig(t, "fanotify_guard = false")
	c := bed.StartConfined(t)
	id := testbed.UniqueID("lln")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Snapshotter: "native",
		Args:   []string{"sh", "-c", "grep -q ' / overlay ' /proc/mounts && echo OVERLAY; " + allowedScript + "; " + attackScript() + " echo END; sleep 300"},
		Labels: map[string]string{"confine.profile": "ll"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	out := attacksOutput(r)
	if strings.Contains(out, "OVERLAY") {
		t.Fatalf("the rootfs is overlayfs: the native snapshotter was not used")
	}
	if !strings.Contains(out, "ALLOWED") {
		t.Fatalf("the allowed workload failed: %q %q", out, r.Stderr())
	}
	checkRefused(t, "native snapshotter", out, true)
	bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "action": "denied", "layer": "landlock", "path": "/etc/shadow"})
}

// TestLandlockDenialsWhileConfinedDown is issue 17's "daemon death": with
// confined SIGKILLed, the kernel still refuses, and the refusal's alert
// arrives when confined is back (read from the kernel log, where the
// kernel prints audit records while no audit daemon is registered), or
// the records the log's rate limit dropped are one alert with their count.
func TestLandlockDenialsWhileConfinedDown(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "ll", strings.Replace(landlockProfile, "MODE", "enforce", 1))
	bed.WriteConfig(t, "fanotify_guard = false")
	c := bed.StartConfined(t)
	id := testbed.UniqueID("lld")
	// The workload's first refusal (its Landlock domain's first logged
	// denial, which names the domain's creator) comes when /tmp/go exists.
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc,
		Args:   []string{"sh", "-c", `while [ ! -e /tmp/go ]; do sleep 0.1; done; if ( echo x > /www/down ) 2>/dev/null; then echo DONE; else echo REFUSED; fi; sleep 300`},
		Labels: map[string]string{"confine.profile": "ll"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	// confined keeps its audit position in state_dir.
	pos := filepath.Join(bed.StateDir, "audit-position")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(pos); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s", pos)
		}
	}
	c.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := r.Exec(ctx, "touch", "/tmp/go"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(r.Stdout(), "REFUSED") && !strings.Contains(r.Stdout(), "DONE"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the workload did not try: %q %q", r.Stdout(), r.Stderr())
		}
	}
	if !strings.Contains(r.Stdout(), "REFUSED") {
		t.Fatalf("the write was allowed while confined was down: %q", r.Stdout())
	}
	if got := bed.FindAlerts(t, map[string]string{"container_id": id, "path": "/www"}); len(got) != 0 {
		t.Fatalf("alerted while confined was down? %v", got)
	}

	bed.StartConfined(t)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if a := bed.FindAlerts(t, map[string]string{"container_id": id, "action": "denied", "layer": "landlock", "path": "/www", "rule": "file"}); len(a) > 0 {
			t.Logf("the refusal while confined was down, reported after its return: %v", a[0]["message"])
			return
		}
		if a := bed.FindAlerts(t, map[string]string{"event": "unprotected", "layer": "landlock", "rule": "layer_missing"}); len(a) > 0 && a[0]["lost"] != nil {
			t.Logf("records dropped by the kernel log's rate limit (other tests' audit records share it), counted: %v", a[0]["message"])
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refusal while confined was down was neither reported nor counted as lost; alerts: %v", bed.Alerts(t))
		}
	}
}
