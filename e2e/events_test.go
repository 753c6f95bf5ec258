package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/monitor/rules"
)

// TestProcessEventsAloneDetect runs with rescans an hour apart and the
// fanotify guard off, so only the process event source in use can catch a
// forbidden exec: the container must still die. confinectl status names
// the source (the one make test forces through CONFINE_E2E_PROCESS_EVENTS,
// else BPF on a kernel that loads it).
func TestProcessEventsAloneDetect(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteConfig(t, "rescan_interval = \"1h\"\nfanotify_guard = false")
	bed.WriteProfile(t, "app", appProfile)
	confined := bed.StartConfined(t)
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(confined.Log)
			for _, l := range strings.Split(string(data), "\n") {
				if !strings.Contains(l, "audit record") {
					t.Log(l)
				}
			}
		}
	})

	want := os.Getenv(e2e.ProcessEventsEnv)
	if want == "" || want == "auto" {
		want = "bpf"
	}
	out, _, code := bed.Ctl(t, "status")
	if code != 0 || !strings.Contains(out, "process events: "+want+"\n") {
		t.Fatalf("confinectl status (exit %d) does not say process events: %s:\n%s", code, want, out)
	}

	id := testbed.UniqueID("ev")
	r, err := bed.Start(context.Background(), testbed.RunOptions{
		ID: id, Runtime: bed.Runc, Args: []string{"sleep", "60"},
		Labels: map[string]string{"confine.profile": "app"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, confined, bed.Namespace, id)
	// The first rescan ran at start-up; from here on only events judge.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_, _ = r.Exec(ctx, "sh", "-c", "cp /bin/busybox /tmp/sleep && exec /tmp/sleep 30")
	cancel()
	bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": id, "rule": "exec", "event": "kill"})
	if code, exited := waitExit(t, r, 10*time.Second); !exited || code == 0 {
		t.Fatalf("container not killed: exited=%v code=%d", exited, code)
	}

	if want != "bpf" {
		return
	}
	// A forbidden binary that exits before /proc can be read: the BPF
	// event's filename and inode still identify it.
	id = testbed.UniqueID("ev")
	r, err = bed.Start(context.Background(), testbed.RunOptions{
		ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", "cp /bin/busybox /tmp/true; sleep 1; /tmp/true; sleep 60"},
		Labels: map[string]string{"confine.profile": "app"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": id, "rule": "exec", "event": "kill"})
	if a["exe"] != "/tmp/true" {
		t.Errorf("alert names exe %v, want /tmp/true: %v", a["exe"], a)
	}
	if code, exited := waitExit(t, r, 10*time.Second); !exited || code == 0 {
		t.Fatalf("container not killed: exited=%v code=%d", exited, code)
	}
}

// TestLearnedCapabilitiesUsed: learning records the capabilities a
// workload exercised (the bpf cap_capable recorder) in the learned
// profile's summary and header.
func TestLearnedCapabilitiesUsed(t *testing.T) {
	if v := os.Getenv(e2e.ProcessEventsEnv); v == "proc_connector" {
		t.Skip("the capability recorder is part of the bpf source; this run forces the proc connector")
	}
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "capl", "apiVersion: confine/v1\nname: capl\nmode: learn\nselector:\n  labels: {app: capl}\n")
	c := bed.StartConfined(t)
	id := testbed.UniqueID("capl")
	r, err := bed.Start(context.Background(), testbed.RunOptions{
		ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", "touch /tmp/f; chown 1234 /tmp/f; sleep 60"},
		Labels: map[string]string{"app": "capl"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	summary := filepath.Join(bed.StateDir, "learned", "capl.summary.json")
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct {
			Summary rules.Summary `json:"summary"`
		}
		data, err := os.ReadFile(summary)
		if err == nil && json.Unmarshal(data, &st) == nil && slices.Contains(st.Summary.CapsUsed, "CHOWN") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("learned summary does not list CHOWN as used: %s %v", data, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	yaml, err := os.ReadFile(filepath.Join(bed.StateDir, "learned", "capl.yaml"))
	if err != nil || !strings.Contains(string(yaml), "the ones the workload used") {
		t.Errorf("learned profile header does not name the exercised capabilities: %v\n%s", err, yaml)
	}
}

// TestExecFastPath: with bpf events, an exec of a file the profile's
// literal exec.allow named in the container's root is allowed from the
// event alone (its device and inode, as the kernel opened it on the
// container's overlayfs, equal what stat says through the container's
// root), with no /proc read. A file replaced at an allowed path (a new
// inode) goes to the slow path and is still allowed by its path; a copy
// elsewhere is still a kill.
func TestExecFastPath(t *testing.T) {
	if v := os.Getenv(e2e.ProcessEventsEnv); v != "" && v != "bpf" && v != "auto" {
		t.Skipf("the exec fast path needs bpf events (%s=%s)", e2e.ProcessEventsEnv, v)
	}
	bed := e2e.NewBed(t)
	bed.WriteConfig(t, "rescan_interval = \"1h\"\nfanotify_guard = false\nlandlock = false")
	bed.WriteProfile(t, "app", strings.Replace(appProfile, `allow: ["/bin/busybox"]`, `allow: ["/bin/busybox", "/opt/true"]`, 1))
	confined := bed.StartConfined(t)
	// /opt/true (busybox: the applet is its name) is a file of the
	// host's, bind-mounted: the test replaces it from outside while no
	// process runs it.
	opt := t.TempDir()
	hostBusybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(opt, "true"), hostBusybox, 0o755); err != nil {
		t.Fatal(err)
	}
	id := testbed.UniqueID("fast")
	r, err := bed.Start(context.Background(), testbed.RunOptions{
		ID: id, Runtime: bed.Runc, Args: []string{"sleep", "300"},
		Labels: map[string]string{"confine.profile": "app"},
		Mounts: []testbed.Mount{{Source: opt, Destination: "/opt"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, confined, bed.Namespace, id)
	const byEvent, byProc = `confine_exec_judged_total{by="event"}`, `confine_exec_judged_total{by="proc"}`
	run := func(script string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res, err := r.Exec(ctx, "/bin/busybox", "sh", "-c", script)
		if err != nil || res.ExitStatus != 0 {
			t.Fatalf("%s: %v %+v", script, err, res)
		}
	}
	// The first exec built the container's inode set from its root.
	run("/bin/busybox true")
	e0, p0 := bed.Metric(t, byEvent), bed.Metric(t, byProc)
	const n = 200
	run(fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/busybox true; /opt/true; i=$((i+1)); done", n))
	// Every exec of the session, its shell (/bin/busybox) included, is
	// the fast path's: on the overlay root and on a bind mount. (confined
	// reads the events after the execs: wait for them.)
	testbed.Eventually(t, testbed.Bound, func() bool { return bed.Metric(t, byEvent)-e0 >= 2*n },
		"%d execs of allowed files: %v judged from the event", 2*n, bed.Metric(t, byEvent)-e0)
	p1 := bed.Metric(t, byProc)
	if p1 != p0 {
		t.Fatalf("%d execs of allowed files: %v judged from /proc, want 0", 2*n, p1-p0)
	}
	// Replaced: a new inode at the allowed path is judged from /proc,
	// and allowed.
	if err := os.WriteFile(filepath.Join(opt, "true.new"), hostBusybox, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(opt, "true.new"), filepath.Join(opt, "true")); err != nil {
		t.Fatal(err)
	}
	run("/opt/true")
	testbed.Eventually(t, testbed.Bound, func() bool { return bed.Metric(t, byProc) > p1 },
		"exec of a replaced /opt/true was not judged from /proc (%v)", p1)
	run("/bin/busybox true")
	if k := bed.Metric(t, `confine_kills_total{rule="exec"}`); k != 0 {
		t.Fatalf("killed for running a replaced but allowed /opt/true (confine_kills_total %v)", k)
	}
	// A copy outside exec.allow: the slow path kills.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_, _ = r.Exec(ctx, "/bin/busybox", "sh", "-c", "/bin/busybox cp /bin/busybox /tmp/x && exec /tmp/x sleep 30")
	cancel()
	bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": id, "rule": "exec", "event": "kill"})
	if code, exited := waitExit(t, r, 10*time.Second); !exited || code == 0 {
		t.Fatalf("container not killed: exited=%v code=%d", exited, code)
	}
}
