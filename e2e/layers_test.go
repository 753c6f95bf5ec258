package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// layerOf returns a container's record of one layer.
func layerOf(ct api.Container, name string) (api.Layer, bool) {
	for _, l := range ct.Layers {
		if l.Name == name {
			return l, true
		}
	}
	return api.Layer{}, false
}

// TestLayersAndNotInjected: a container under an enforce profile that did
// not go through confine-runc is an alert (rule not_injected), is listed
// by `confinectl status` (exit 1) and shows its missing seccomp layer in
// `confinectl ps`; one that went through confine-runc shows its layers in
// force (seccomp, fanotify, secrets, nftables, events) and raises no such
// alert.
func TestLayersAndNotInjected(t *testing.T) {
	bed := e2e.NewBed(t)
	// appProfile with a seccomp section: the seccomp layer is needed.
	bed.WriteProfile(t, "app", appProfile+"seccomp:\n  base: docker-default\n")
	confined := bed.StartConfined(t)
	ctx := context.Background()

	injID := testbed.UniqueID("inj")
	r1, err := bed.Start(ctx, testbed.RunOptions{ID: injID, Runtime: bed.Runc, Args: []string{"sleep", "60"}, Labels: map[string]string{"confine.profile": "app"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	plainID := testbed.UniqueID("plain")
	r2, err := bed.Start(ctx, testbed.RunOptions{ID: plainID, Args: []string{"sleep", "60"}, Labels: map[string]string{"confine.profile": "app"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()

	waitWatched(t, confined, bed.Namespace, injID)
	waitWatched(t, confined, bed.Namespace, plainID)
	// The layers of the injected one are recorded at createRuntime; those
	// of the plain one when containerd reports it. Wait for both.
	var inj, plain api.Container
	deadline := time.Now().Add(10 * time.Second)
	for {
		cs, err := confined.Client.Containers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range cs {
			switch ct.ID {
			case injID:
				inj = ct
			case plainID:
				plain = ct
			}
		}
		_, a := layerOf(inj, "nftables")
		_, b := layerOf(plain, "nftables")
		if a && b {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("layers not recorded: injected %+v, plain %+v", inj.Layers, plain.Layers)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, name := range []string{"seccomp", "landlock", "fanotify", "secrets", "nftables", "events"} {
		if l, ok := layerOf(inj, name); !ok || !l.InForce {
			t.Errorf("injected container: layer %s not in force: %+v", name, inj.Layers)
		}
	}
	if l, _ := layerOf(inj, "events"); l.Detail == "" {
		t.Errorf("events source not named: %+v", l)
	}
	if l, ok := layerOf(plain, "seccomp"); !ok || l.InForce || !strings.Contains(l.Reason, "confine-runc") {
		t.Errorf("plain container: seccomp layer %+v, want missing because it did not go through confine-runc", l)
	}

	a := bed.WaitAlert(t, 10*time.Second, map[string]string{"container_id": plainID, "rule": "not_injected"})
	if a["event"] != "unprotected" || a["layer"] != "seccomp" || a["message_id"] != "ca562c546c454dadb0ffa10ce7540f7f" || a["priority"] != float64(3) {
		t.Errorf("not_injected alert %v", a)
	}
	if got := bed.FindAlerts(t, map[string]string{"container_id": injID, "event": "unprotected"}); len(got) != 0 {
		t.Errorf("unprotected alerts for the injected container: %v", got)
	}

	out, _, code := bed.Ctl(t, "status")
	if code != 1 || !strings.Contains(out, "UNPROTECTED") || !strings.Contains(out, plainID+": seccomp missing") || strings.Contains(out, injID) {
		t.Errorf("confinectl status (exit %d) does not list exactly the uninjected container:\n%s", code, out)
	}
	if !strings.Contains(out, "process events: ") || strings.Contains(out, "WARNING: rescans only") {
		t.Errorf("confinectl status does not name the events source:\n%s", out)
	}
	out, _, code = bed.Ctl(t, "ps")
	if code != 0 {
		t.Fatalf("confinectl ps: exit %d", code)
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(line, plainID):
			if !strings.Contains(line, "!seccomp") || !strings.Contains(line, "NOT INJECTED") {
				t.Errorf("ps line of the uninjected container: %s", line)
			}
		case strings.Contains(line, injID):
			if !strings.Contains(line, "seccomp,landlock(ABI ") || !strings.Contains(line, ",fanotify(") || !strings.Contains(line, "events(") || strings.Contains(line, "!") {
				t.Errorf("ps line of the injected container: %s", line)
			}
		}
	}
}
