package e2e

import (
	"context"
	"encoding/json"
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
