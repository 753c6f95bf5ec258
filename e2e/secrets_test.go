package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// secretReader opens /etc/shadow, and from a child (a process other than
// PID 1) PID 1's environment and its own (not a secret read); the openers
// stay, so that their executable can be read.
const secretReader = `exec 3</etc/shadow; (exec 4</proc/1/environ 5</proc/self/environ; sleep 300) & echo READ; sleep 300`

// TestSecretReadsAlwaysReported is issue 17's "secret reads, always": the
// built-in credential list is watched under the embedded baseline profile,
// in learn mode (the read is learned and still reported) and in a `ctr
// task exec` session; each read is a "secret" alert naming the file, the
// process and the container. A profile's secrets.ignore takes a path out;
// a process reading its own /proc/self/environ is not reported.
func TestSecretReadsAlwaysReported(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "quiet", `apiVersion: confine/v1
name: quiet
mode: monitor
secrets:
  ignore: ["/etc/shadow"]
`)
	c := bed.StartConfined(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := func(prefix string, labels map[string]string) (*testbed.Running, string) {
		t.Helper()
		id := testbed.UniqueID(prefix)
		r, err := bed.Start(ctx, testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", secretReader}, Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		waitWatched(t, c, bed.Namespace, id)
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(r.Stdout(), "READ") && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		return r, id
	}
	base, baseID := start("secb", nil)
	_, learnID := start("secl", map[string]string{"confine.mode": "learn"})
	_, quietID := start("secq", map[string]string{"confine.profile": "quiet"})

	for _, id := range []string{baseID, learnID} {
		a := bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "rule": "secret", "path": "/etc/shadow", "exe": "/bin/busybox", "action": "alerted", "layer": "fanotify"})
		if a["pid"] == nil || !strings.Contains(a["message"].(string), "/etc/shadow") {
			t.Errorf("secret alert without pid or path in its message: %v", a)
		}
		bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "rule": "secret", "path": "/proc/1/environ"})
	}
	bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": baseID, "profile": "baseline", "rule": "secret"})
	bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": learnID, "mode": "learn", "rule": "secret"})

	// secrets.ignore: /etc/shadow is not reported, /proc/1/environ is.
	bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": quietID, "rule": "secret", "path": "/proc/1/environ"})
	if got := bed.FindAlerts(t, map[string]string{"container_id": quietID, "rule": "secret", "path": "/etc/shadow"}); len(got) != 0 {
		t.Errorf("secrets.ignore did not take /etc/shadow out: %v", got)
	}
	// A process's own environment is not a secret read.
	for _, a := range bed.FindAlerts(t, map[string]string{"rule": "secret"}) {
		if p := a["path"].(string); strings.HasPrefix(p, "/proc/") && p != "/proc/1/environ" {
			t.Errorf("a process's own environment reported: %v", a)
		}
	}

	// An exec session's read, by another program (a copy of busybox named sh: argv[0] selects the applet).
	if res, err := base.Exec(ctx, "sh", "-c", "cp /bin/busybox /tmp/sh && (/tmp/sh -c 'exec 3</etc/shadow; sleep 10' &) ; echo OK"); err != nil || !strings.Contains(res.Stdout, "OK") {
		t.Fatalf("exec: %v %+v", err, res)
	}
	bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": baseID, "rule": "secret", "path": "/etc/shadow", "exe": "/tmp/sh"})
}

// TestSecretWatchIsALayer: a container whose secret reads are not watched
// (here: secret_watch = false in confine.toml) is never silently so. It is
// a layer_missing alert (CONFINE_LAYER secrets) in every mode, learn
// included since secret reads are reported there too, `confinectl ps`
// shows !secrets with the reason and `confinectl status` lists it (exit 1).
func TestSecretWatchIsALayer(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteConfig(t, "secret_watch = false")
	c := bed.StartConfined(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ids []string
	for _, mode := range []string{"enforce", "learn"} {
		id := testbed.UniqueID("nosec")
		r, err := bed.Start(ctx, testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sleep", "300"}, Labels: map[string]string{"confine.mode": mode}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		waitWatched(t, c, bed.Namespace, id)
		a := bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "rule": "layer_missing", "layer": "secrets", "event": "unprotected", "mode": mode})
		if !strings.Contains(a["message"].(string), "secret_watch = false") {
			t.Errorf("layer_missing alert does not say why: %v", a)
		}
		ids = append(ids, id)
	}
	cs, err := c.Client.Containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range cs {
		if l, ok := layerOf(ct, "secrets"); ct.Namespace == bed.Namespace && (!ok || l.InForce || !strings.Contains(l.Reason, "secret_watch = false")) {
			t.Errorf("%s: secrets layer %+v, want missing with its reason", ct.ID, l)
		}
	}
	out, _, code := bed.Ctl(t, "ps")
	if code != 0 {
		t.Fatalf("confinectl ps: exit %d\n%s", code, out)
	}
	for _, id := range ids {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, id) {
				found = true
				if !strings.Contains(line, "!secrets") || !strings.Contains(line, "missing secrets: secret_watch = false") {
					t.Errorf("ps line without the missing secret watch: %s", line)
				}
			}
		}
		if !found {
			t.Errorf("%s not in confinectl ps:\n%s", id, out)
		}
	}
	out, _, code = bed.Ctl(t, "status")
	if code != 1 {
		t.Errorf("confinectl status: exit %d with unwatched secrets, want 1", code)
	}
	for _, id := range ids {
		listed := false
		for _, line := range strings.Split(out, "\n") {
			listed = listed || strings.Contains(line, id) && strings.Contains(line, ": secrets missing: secret_watch = false")
		}
		if !listed {
			t.Errorf("confinectl status does not list %s:\n%s", id, out)
		}
	}
}
