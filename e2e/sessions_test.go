package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
)

// ctrExec runs `ctr task exec` of a shell command into a container, the
// way an operator does, and returns its exit status and output.
func ctrExec(t *testing.T, bed *e2e.Bed, id, script string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ctr", "-a", bed.Address, "-n", bed.Namespace, "task", "exec", "--exec-id", testbed.UniqueID("op"), id, "sh", "-c", script)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("ctr task exec: %v %s", err, out)
	}
	return 0, string(out)
}

// TestExecSessions: `ctr task exec` of a shell into an enforced container
// follows the profile's execSessions policy. The session changes its
// umask (a syscall the profile denies), drops a binary into /tmp and runs
// it (outside exec.allow).
//   - audit: the session runs; each command and each violation is
//     reported with one CONFINE_SESSION; the container lives on.
//   - profile: the session is held to the profile: the container is killed.
//   - deny: the session is killed at once; the workload lives on.
func TestExecSessions(t *testing.T) {
	testbed.RequireTools(t, "ctr")
	bed := e2e.NewBed(t)
	for _, policy := range []string{"audit", "profile", "deny"} {
		bed.WriteProfile(t, "s-"+policy, fmt.Sprintf(`apiVersion: confine/v1
name: s-%s
mode: enforce
exec:
  allow: ["/bin/busybox"]
seccomp:
  deny: [umask]
execSessions: %s
`, policy, policy))
	}
	bed.WriteConfig(t, "fanotify_guard = false")
	c := bed.StartConfined(t)
	// The dropped binary lives a moment, as an operator's command does: a
	// process gone before /proc is read is seen by the seccomp listener
	// only (see the note in internal/daemon/sessions.go).
	session := `umask 077; mkdir -p /tmp/p && cp /bin/busybox /tmp/p/busybox && /tmp/p/busybox sh -c 'sleep 2; echo ran-dropped'; echo session-end`
	for _, policy := range []string{"audit", "profile", "deny"} {
		t.Run(policy, func(t *testing.T) {
			id := testbed.UniqueID("sess")
			r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", "while true; do sleep 1; done"}, Labels: map[string]string{"confine.profile": "s-" + policy}})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			waitWatched(t, c, bed.Namespace, id)
			code, out := ctrExec(t, bed, id, session)
			switch policy {
			case "audit":
				if code != 0 || !strings.Contains(out, "ran-dropped") || !strings.Contains(out, "session-end") {
					t.Fatalf("audited session did not run through: %d %q", code, out)
				}
				v := bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "rule": "exec", "event": "violation", "action": "alerted"})
				if !strings.Contains(fmt.Sprint(v["exe"]), "/tmp/p/busybox") {
					t.Errorf("the violation does not name the dropped binary: %v", v)
				}
				sess := fmt.Sprint(v["session"])
				if sess == "" || sess == "<nil>" {
					t.Fatalf("violation without a session: %v", v)
				}
				sc := bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "rule": "seccomp", "syscall": "umask", "session": sess})
				if sc["action"] != "alerted" {
					t.Errorf("umask in an audited session: %v", sc)
				}
				cmds := bed.FindAlerts(t, map[string]string{"container_id": id, "event": "exec_session", "session": sess})
				if len(cmds) == 0 {
					t.Errorf("no session commands reported in thread %s", sess)
				}
				if got := bed.FindAlerts(t, map[string]string{"container_id": id, "event": "kill"}); len(got) != 0 {
					t.Errorf("an audited session killed the container: %v", got)
				}
				if _, exited := waitExit(t, r, time.Second); exited {
					t.Fatal("container died under an audited session")
				}
			case "profile":
				if _, exited := waitExit(t, r, 15*time.Second); !exited {
					t.Fatalf("container not killed for its session's violation: %d %q", code, out)
				}
				bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "event": "kill"})
			case "deny":
				if strings.Contains(out, "session-end") {
					t.Errorf("a denied session ran to its end: %q", out)
				}
				bed.WaitAlert(t, 15*time.Second, map[string]string{"container_id": id, "event": "exec_session", "action": "killed"})
				if _, exited := waitExit(t, r, 2*time.Second); exited {
					t.Fatal("the workload died with the denied session")
				}
			}
		})
	}
}
