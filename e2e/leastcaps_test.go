package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
)

// webCapsScript serves a page with busybox httpd on port 80 (as root: a
// bind below 1024 needs CAP_NET_BIND_SERVICE), fetches it 20 times over
// loopback, then prints the capability sets of the container's init.
const webCapsScript = `mkdir -p /tmp/www && echo hello > /tmp/www/index.html
httpd -p 80 -h /tmp/www || exit 1
ok=0; n=0
while [ $ok -lt 20 ] && [ $n -lt 200 ]; do
  n=$((n+1))
  if printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc 127.0.0.1 80 | grep -q hello; then ok=$((ok+1)); else usleep 20000; fi
done
[ $ok -eq 20 ] || { echo "served $ok"; exit 1; }
grep -E '^Cap(Eff|Bnd):' /proc/1/status
echo served
sleep 60`

// learnWebCaps runs webCapsScript once under the learn profile lcweb and
// returns the learned profile once privileges.capabilities is in it, and
// what confinectl ps said of the container while it ran.
func learnWebCaps(t *testing.T, bed *e2e.Bed, c *e2e.Confined) (*profiles.Profile, api.Container) {
	t.Helper()
	id := testbed.UniqueID("lcweb")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", webCapsScript},
		Labels: map[string]string{"app": "lcweb"}})
	if err != nil {
		t.Fatal(err)
	}
	waitWatched(t, c, bed.Namespace, id)
	waitOutput(t, r, "served", 30*time.Second)
	time.Sleep(time.Second) // audit records and a flush
	ct := waitWatched(t, c, bed.Namespace, id)
	r.Close()
	path := filepath.Join(bed.StateDir, "learned", "lcweb.yaml")
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := profiles.ReadFile(path, profiles.Options{})
		if err == nil && slices.Contains(res.Profile.Exec.Allow, "/bin/busybox") && res.Profile.Privileges.Capabilities != nil {
			return res.Profile, ct
		}
		if time.Now().After(deadline) {
			t.Fatalf("no learned profile with exec and capabilities in %s: %v %+v", path, err, res)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const lcwebLearn = "apiVersion: confine/v1\nname: lcweb\nmode: learn\nselector:\n  labels: {app: lcweb}\n"

// TestLeastCapabilitiesLearned: a busybox web server learned with the bpf
// capability recorder gets privileges.capabilities = what it used
// (NET_BIND_SERVICE for port 80), not the 14 it held; confinectl ps shows
// held against used; promoted to enforce, the same workload holds only
// that capability (CapEff and CapBnd of /proc/1/status inside) and runs
// with zero alerts.
func TestLeastCapabilitiesLearned(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteConfig(t, `process_events = "bpf"`)
	bed.WriteProfile(t, "lcweb", lcwebLearn)
	c := bed.StartConfined(t)
	lp, ct := learnWebCaps(t, bed, c)
	if !slices.Equal(lp.Privileges.Capabilities, profiles.List{"NET_BIND_SERVICE"}) {
		t.Errorf("learned privileges.capabilities %v, want [NET_BIND_SERVICE] (the one used)", lp.Privileges.Capabilities)
	}
	if len(ct.CapsHeld) < 10 || !slices.Contains(ct.CapsUsed, "NET_BIND_SERVICE") || len(ct.CapsUsed) != 1 || !ct.CapsRecorded || ct.CapsNote != "" {
		t.Errorf("confinectl ps while learning: held %v, used %v (recorded %v, note %q); want the defaults held, NET_BIND_SERVICE used",
			ct.CapsHeld, ct.CapsUsed, ct.CapsRecorded, ct.CapsNote)
	}
	diff, _, _ := bed.Ctl(t, "profile", "diff", "lcweb")
	if !strings.Contains(diff, "# capabilities: NET_BIND_SERVICE: the ones the workload used") {
		t.Errorf("profile diff does not say the capabilities are the ones used:\n%s", diff)
	}
	if out, se, code := bed.Ctl(t, "profile", "promote", "lcweb", "--mode", "enforce"); code != 0 {
		t.Fatalf("promote: %d %s %s", code, out, se)
	}
	waitStatus(t, c, "promoted profile loaded", func(errs []string, _ int) bool { return len(errs) == 0 })
	id := testbed.UniqueID("lcweb")
	r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", webCapsScript},
		Labels: map[string]string{"app": "lcweb"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitWatched(t, c, bed.Namespace, id)
	out := waitOutput(t, r, "served", 30*time.Second)
	// NET_BIND_SERVICE is bit 10.
	for _, set := range []string{"CapEff:", "CapBnd:"} {
		if !strings.Contains(out, set+"\t0000000000000400") {
			t.Errorf("%s of /proc/1/status is not 0x400 (NET_BIND_SERVICE only) under the promoted profile:\n%s", set, out)
		}
	}
	time.Sleep(time.Second) // a couple of rescans
	if got := bed.FindAlerts(t, map[string]string{"container_id": id}); len(got) != 0 {
		t.Fatalf("the learned web workload raised alerts under its promoted profile: %v", got)
	}
	ct = waitWatched(t, c, bed.Namespace, id)
	if !slices.Equal(ct.CapsHeld, []string{"NET_BIND_SERVICE"}) {
		t.Errorf("confinectl ps under enforce: held %v, want [NET_BIND_SERVICE]", ct.CapsHeld)
	}
}

// TestLeastCapabilitiesWithoutRecorder: with process events from the
// proc connector there is no capability recorder. Learning then keeps
// the capabilities the workload held, and says so where the operator
// looks: the learned file's header, profile diff, promote, and
// confinectl ps (used: "-", with the reason).
func TestLeastCapabilitiesWithoutRecorder(t *testing.T) {
	bed := e2e.NewBed(t)
	bed.WriteConfig(t, `process_events = "proc_connector"`)
	bed.WriteProfile(t, "lcweb", lcwebLearn)
	c := bed.StartConfined(t)
	lp, ct := learnWebCaps(t, bed, c)
	if len(lp.Privileges.Capabilities) < 10 || !slices.Equal(ct.CapsHeld, []string(lp.Privileges.Capabilities)) {
		t.Errorf("learned privileges.capabilities %v, want the %d held %v", lp.Privileges.Capabilities, len(ct.CapsHeld), ct.CapsHeld)
	}
	if ct.CapsUsed != nil || ct.CapsRecorded || !strings.Contains(ct.CapsNote, "no capability recorder") {
		t.Errorf("confinectl ps: used %v (recorded %v), note %q; want no used set and the reason", ct.CapsUsed, ct.CapsRecorded, ct.CapsNote)
	}
	const warn = "are the ones the workload HELD, not used: no capability recorder watched it"
	diff, _, _ := bed.Ctl(t, "profile", "diff", "lcweb")
	if !strings.Contains(diff, warn) {
		t.Errorf("profile diff does not warn that the capabilities are held ones:\n%s", diff)
	}
	out, se, code := bed.Ctl(t, "profile", "promote", "lcweb", "--mode", "enforce")
	if code != 0 {
		t.Fatalf("promote: %d %s %s", code, out, se)
	}
	if !strings.Contains(out, warn) {
		t.Errorf("promote does not warn that the capabilities are held ones:\n%s", out)
	}
	t.Log(out)
}

// TestExecSessionCapabilities: a `ctr task exec` session into an enforced
// container holds the container's capabilities, not the defaults
// containerd puts in the exec process (confine-runc narrows runc exec's
// process file as it narrowed the container's spec), and so breaks no
// rule; an audited session (execSessions: audit) keeps what it was given
// and is reported.
func TestExecSessionCapabilities(t *testing.T) {
	testbed.RequireTools(t, "ctr")
	bed := e2e.NewBed(t)
	for _, policy := range []string{"profile", "audit"} {
		bed.WriteProfile(t, "xc-"+policy, "apiVersion: confine/v1\nname: xc-"+policy+"\nmode: enforce\nprivileges:\n  capabilities: [NET_BIND_SERVICE]\nexecSessions: "+policy+"\n")
	}
	c := bed.StartConfined(t)
	for _, policy := range []string{"profile", "audit"} {
		t.Run(policy, func(t *testing.T) {
			id := testbed.UniqueID("xc")
			r, err := bed.Start(context.Background(), testbed.RunOptions{ID: id, Runtime: bed.Runc, Args: []string{"sh", "-c", "while true; do sleep 1; done"},
				Labels: map[string]string{"confine.profile": "xc-" + policy}})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			waitWatched(t, c, bed.Namespace, id)
			code, out := ctrExec(t, bed, id, "grep -E '^Cap(Eff|Bnd):' /proc/self/status; sleep 1")
			if code != 0 {
				t.Fatalf("exec session: %d %q", code, out)
			}
			narrowed := strings.Contains(out, "CapEff:\t0000000000000400") && strings.Contains(out, "CapBnd:\t0000000000000400")
			switch policy {
			case "profile":
				if !narrowed {
					t.Errorf("the session does not hold the container's capabilities (NET_BIND_SERVICE only):\n%s", out)
				}
				time.Sleep(time.Second) // a rescan
				if got := bed.FindAlerts(t, map[string]string{"container_id": id}); len(got) != 0 {
					t.Errorf("a session with the container's capabilities raised alerts: %v", got)
				}
				if _, exited := waitExit(t, r, time.Second); exited {
					t.Fatal("the container died")
				}
			case "audit":
				if narrowed {
					t.Errorf("an audited session was narrowed:\n%s", out)
				}
			}
		})
	}
}
