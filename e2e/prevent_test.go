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

const preventProfile = `apiVersion: confine/v1
name: prevent
mode: enforce
exec:
  allow: ["/bin/busybox"]
files:
  deny: ["/etc/sha*", "/data/secret*"]
  readOnly: ["/etc/**"]
onViolation: alert
`

// TestPreventionThroughConfined: with confined's fanotify guard, forbidden
// execs and opens fail with EPERM before they happen, in the rootfs and
// in a bind-mounted volume, while the allowed workload is unaffected.
func TestPreventionThroughConfined(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "prevent", preventProfile)
	c := bed.StartConfined(t)
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "secret.txt"), []byte("s3cr3t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "public.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := testbed.UniqueID("pv")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sleep", "120"},
		Labels: map[string]string{"confine.profile": "prevent"}, Mounts: []testbed.Mount{{Source: vol, Destination: "/data"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sh := func(script string) (int, string) {
		res, err := r.Exec(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatalf("exec %q: %v", script, err)
		}
		return res.ExitStatus, res.Stdout + res.Stderr
	}

	// The copied binary never runs: it would have written the marker.
	code, out := sh(`mkdir -p /tmp/m && cp /bin/busybox /tmp/m/busybox && /tmp/m/busybox sh -c 'echo ran > /tmp/marker'`)
	if code != 126 {
		t.Errorf("exec of a copied binary: exit %d (%s), want 126", code, out)
	}
	if code, _ := sh(`test -e /tmp/marker`); code == 0 {
		t.Error("the denied binary ran: the marker exists")
	}
	for _, tc := range []struct{ name, script string }{
		{"files.deny glob in the rootfs", `cat /etc/shadow`},
		{"files.readOnly write", `echo x >> /etc/passwd`},
		{"files.deny in a volume", `cat /data/secret.txt`},
	} {
		code, out := sh(tc.script)
		if code == 0 || !strings.Contains(out, "ermission denied") && !strings.Contains(out, "not permitted") {
			t.Errorf("%s: exit %d (%s), want EPERM", tc.name, code, out)
		}
	}
	// The allowed workload is unaffected.
	if code, out := sh(`ls / >/dev/null && cat /etc/passwd >/dev/null && cat /data/public.txt && echo ok > /tmp/ok && cat /tmp/ok`); code != 0 || !strings.Contains(out, "hello") {
		t.Fatalf("allowed workload broken: %d %s", code, out)
	}
	for _, want := range []map[string]string{
		{"container_id": id, "action": "denied", "rule": "exec"},
		{"container_id": id, "action": "denied", "rule": "file", "path": "/etc/shadow"},
		{"container_id": id, "action": "denied", "rule": "file", "path": "/data/secret.txt"},
	} {
		bed.WaitAlert(t, 15*time.Second, want)
	}
	if _, exited := waitExit(t, r, time.Second); exited {
		t.Fatal("onViolation: alert killed the container")
	}
}
