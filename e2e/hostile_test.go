package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/containerd/containerd/v2/pkg/oci"
)

const hostileProfile = `apiVersion: confine/v1
name: hostile
mode: enforce
exec:
  allow: ["/bin/busybox", "/tmp/d/**", "/opt/t/**"]
files:
  deny: ["/etc/shadow"]
onViolation: kill
`

// TestHostileContainers: what a workload says about itself does not count,
// the kernel's view does. Run with the fanotify guard off so the /proc
// monitor (the after-the-fact path) is what is tested.
func TestHostileContainers(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteProfile(t, "hostile", hostileProfile)
	bed.WriteProfile(t, "bomb", "apiVersion: confine/v1\nname: bomb\nmode: monitor\nexec:\n  allow: [\"/bin/busybox\"]\n")
	bed.WriteConfig(t, "fanotify_guard = false")
	c := bed.StartConfined(t)
	// memfd-exec (static Go: busybox cannot run a memfd) is in every
	// container, at an allowed path.
	tools := filepath.Join(bed.Dir, "tools")
	build := exec.Command("go", "build", "-o", filepath.Join(tools, "memfd-exec"), "github.com/confinehq/confine/internal/testbed/cmd/memfd-exec")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building memfd-exec: %v\n%s", err, out)
	}
	mounts := []testbed.Mount{{Source: tools, Destination: "/opt/t", ReadOnly: true}}

	tests := []struct {
		name, script, exe string
		path              string // for a file rule: the path the alert names
	}{
		{"renamed to an allowed name (comm)", `mkdir -p /tmp/x && cp /bin/busybox /tmp/x/busybox && exec /tmp/x/busybox sh -c 'printf busybox > /proc/self/comm; printf sleep > /proc/self/comm; sleep 60'`, "/tmp/x/busybox", ""},
		{"run through a symlink with an allowed-looking name", `mkdir -p /tmp/y && cp /bin/busybox /tmp/y/busybox && mkdir -p /opt/bin && ln -s /tmp/y/busybox /opt/bin/sleep && exec /opt/bin/sleep 60`, "/tmp/y/busybox", ""},
		{"deleted executable (fileless), although its path is allowed", `mkdir -p /tmp/d && cp /bin/busybox /tmp/d/busybox && exec /tmp/d/busybox sh -c 'rm /tmp/d/busybox; while :; do sleep 1; done'`, "/tmp/d/busybox", ""},
		{"executable run from a memfd (fileless), started by an allowed binary", `exec /opt/t/memfd-exec sleep /bin/busybox sleep 60`, "/memfd:sleep", ""},
		{"files.deny through a symlink", `ln -s /etc/shadow /tmp/innocent && exec 3</tmp/innocent && sleep 60`, "", "/etc/shadow"},
		{"files.deny through /proc/self/root", `exec 3</proc/self/root/etc/shadow && sleep 60`, "", "/etc/shadow"},
		{"files.deny through /proc/self/fd of a process that opened it", `exec 3</etc/shadow 4</proc/self/fd/3 && exec 3<&- && sleep 60`, "", "/etc/shadow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := testbed.UniqueID("ho")
			r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", tt.script}, Mounts: mounts, Labels: map[string]string{"confine.profile": "hostile"}})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if tt.path != "" {
				a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": id, "event": "kill", "rule": "file"})
				if a["path"] != tt.path {
					t.Errorf("alert path %v, want %s", a["path"], tt.path)
				}
			} else {
				a := bed.WaitAlert(t, 20*time.Second, map[string]string{"container_id": id, "event": "kill", "rule": "exec"})
				if !strings.Contains(fmt.Sprint(a["exe"]), tt.exe) {
					t.Errorf("alert exe %v, want %s", a["exe"], tt.exe)
				}
			}
			// 137: killed. 126: Landlock refused the exec (the alert
			// says so) and the shell ended before the kill arrived.
			if code, exited := waitExit(t, r, 15*time.Second); !exited || (code != 137 && code != 126) {
				t.Fatalf("not killed: %v %d", exited, code)
			}
		})
	}

	t.Run("fork bomb under a pids limit", func(t *testing.T) {
		id := testbed.UniqueID("bomb")
		r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", `b() { b | b & }; b; sleep 60`},
			Labels: map[string]string{"confine.profile": "bomb"}, SpecOpts: []oci.SpecOpts{oci.WithPidsLimit(128)}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		waitWatched(t, c, bed.Namespace, id)
		time.Sleep(2 * time.Second) // the bomb hits its limit; a few rescans run
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := c.Client.Status(ctx)
		if err != nil || !st.ContainerdConnected {
			t.Fatalf("confined unresponsive under a fork bomb: %+v %v", st, err)
		}
		waitWatched(t, c, bed.Namespace, id)
	})
}
