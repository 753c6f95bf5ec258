package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// waitStatus polls confined's status until cond holds.
func waitStatus(t *testing.T, c *e2e.Confined, what string, cond func(errs []string, profiles int) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := c.Client.Status(ctx)
		cancel()
		if err == nil && cond(st.ProfileErrors, st.Profiles) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %+v %v", what, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Landlock is off here: its rules are fixed when a container starts, so a
// reload cannot widen what the kernel allows a running container (README,
// "Files and Landlock"); this test is about the monitor's rules.
func TestReloadKeepsLastGoodAndAppliesChanges(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteConfig(t, "landlock = false")
	bed.WriteProfile(t, "app", appProfile)
	c := bed.StartConfined(t)

	id := testbed.UniqueID("rl")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sleep", "120"}, Labels: map[string]string{"confine.profile": "app"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)

	// A broken file (changed on disk, picked up without a signal): the
	// error is reported, the last good "app" stays in force.
	bed.WriteProfile(t, "app", "apiVersion: confine/v1\nname: app\nmode: enforcing\n")
	// The daemon still serves two profiles: baseline and the last good app.
	waitStatus(t, c, "broken profile reported, last good kept", func(errs []string, n int) bool {
		return len(errs) == 1 && strings.Contains(errs[0], "app.yaml:3") && strings.Contains(errs[0], "enforcing") && n == 2
	})
	bed.WaitAlert(t, 10*time.Second, map[string]string{"event": "profile_error"})

	// A valid change, applied with SIGHUP to the running container: the
	// new profile allows binaries under /tmp/ok/.
	bed.WriteProfile(t, "app", strings.Replace(appProfile, `allow: ["/bin/busybox"]`, `allow: ["/bin/busybox", "/tmp/ok/**"]`, 1))
	if err := c.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, "fixed profile loaded", func(errs []string, _ int) bool { return len(errs) == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	res, err := r.Exec(ctx, "sh", "-c", "mkdir -p /tmp/ok && cp /bin/busybox /tmp/ok/busybox && /tmp/ok/busybox true && echo allowed")
	cancel()
	if err != nil || !strings.Contains(res.Stdout, "allowed") {
		t.Fatalf("exec allowed by the reloaded profile failed: %v %+v", err, res)
	}
	bed.WaitRescans(t, 2) // the whole container judged again under the new profile
	if _, exited := waitExit(t, r, time.Second); exited {
		t.Fatalf("container killed although the reloaded profile allows it; alerts %v", bed.Alerts(t))
	}
	// And what the new profile still forbids kills.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	_, _ = r.Exec(ctx, "sh", "-c", "mkdir -p /tmp/bad && cp /bin/busybox /tmp/bad/busybox && exec /tmp/bad/busybox sleep 30")
	cancel()
	if code, exited := waitExit(t, r, 15*time.Second); !exited || code != 137 {
		t.Fatalf("not killed after reload: %v %d", exited, code)
	}
}
