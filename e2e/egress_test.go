package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

const egressProfile = `apiVersion: confine/v1
name: net
mode: enforce
network:
  egress: ["127.0.0.1:8080"]
  listen: [8080, 9090]
onViolation: %s
`

// TestEgressThroughConfined: confined installs the container's nftables
// rules at createRuntime, before user code runs; an unapproved peer is
// refused at once and reported with the peer, and onViolation: kill kills.
func TestEgressThroughConfined(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "net", strings.Replace(egressProfile, "%s", "alert", 1))
	bed.WriteProfile(t, "netkill", strings.Replace(strings.Replace(egressProfile, "%s", "kill", 1), "name: net", "name: netkill", 1))
	c := bed.StartConfined(t)

	serve := `httpd -p 8080 -h /www; httpd -p 9090 -h /www; sleep 120`
	id := testbed.UniqueID("eg")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", serve}, Labels: map[string]string{"confine.profile": "net"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ct := waitWatched(t, c, bed.Namespace, id)
	for _, n := range ct.Notes {
		if strings.Contains(n, "egress") {
			t.Fatalf("egress rules not installed: %v", ct.Notes)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok, err := r.Exec(ctx, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/")
	if err != nil || ok.ExitStatus != 0 {
		t.Fatalf("allowed peer unreachable: %v %+v", err, ok)
	}
	start := time.Now()
	bad, err := r.Exec(ctx, "wget", "-q", "-O", "-", "http://127.0.0.1:9090/")
	if err != nil {
		t.Fatal(err)
	}
	if bad.ExitStatus == 0 {
		t.Fatalf("unapproved peer reachable: %+v", bad)
	}
	if !strings.Contains(bad.Stderr, "refused") {
		t.Errorf("want connection refused at once, got %q after %s", bad.Stderr, time.Since(start))
	}
	a := bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "rule": "network", "action": "denied"})
	if a["peer"] != "127.0.0.1:9090" {
		t.Errorf("alert peer %v, want 127.0.0.1:9090", a["peer"])
	}
	if _, exited := waitExit(t, r, time.Second); exited {
		t.Fatal("onViolation: alert killed the container")
	}

	// The same with onViolation: kill.
	id2 := testbed.UniqueID("egk")
	r2, err := bed.Start(context.Background(), testbed.RunOptions{ID: id2, Runtime: bed.Runc, Args: []string{"sh", "-c", serve}, Labels: map[string]string{"confine.profile": "netkill"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	waitWatched(t, c, bed.Namespace, id2)
	_, _ = r2.Exec(ctx, "wget", "-q", "-O", "-", "http://127.0.0.1:9090/")
	bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id2, "rule": "network", "event": "kill"})
	if code, exited := waitExit(t, r2, 15*time.Second); !exited || code != 137 {
		t.Fatalf("not killed: %v %d", exited, code)
	}
}
