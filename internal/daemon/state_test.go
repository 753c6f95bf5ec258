package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confinehq/confine/internal/alert"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/internal/watch"
	"github.com/confinehq/confine/profiles"
)

// stateDaemon is a Daemon on private directories, not running: no
// containerd (lookups fail at once), alerts in memory.
func stateDaemon(t *testing.T, profileYAML string) (*Daemon, *testbed.SyncBuffer) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.ContainerdAddress = filepath.Join(dir, "no-containerd.sock")
	cfg.ProfilesDir, cfg.StateDir, cfg.RunDir = filepath.Join(dir, "profiles.d"), filepath.Join(dir, "state"), filepath.Join(dir, "run")
	cfg.AlertSinks = []string{"jsonl:" + filepath.Join(dir, "alerts.jsonl")}
	cfg.DockerNamespace = "no-docker"
	if err := os.MkdirAll(cfg.ProfilesDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.ProfilesDir, "app.yaml"), []byte(profileYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testbed.SyncBuffer{}
	d, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	d.alerts.close()
	d.alerts = newAlerterWith(quietLog(), d.metrics, []alert.Sink{&memSink{}}, time.Now)
	d.lost = newOverflow(quietLog(), d.metrics, d.alerts, d.requestRescan)
	d.enf.alerts, d.enf.lost, d.mon.lost = d.alerts, d.lost, d.lost
	if errs, _ := d.profiles.Load(); len(errs) != 0 {
		t.Fatalf("profiles: %v", errs)
	}
	return d, logs
}

const appProfile = `apiVersion: confine/v1
name: app
mode: monitor
`

// TestRegistrationIsGetOrCreate: the createRuntime hook and containerd's
// path register the same task concurrently; each container is registered
// once (one record, one set of egress rules and guard), whichever wins.
func TestRegistrationIsGetOrCreate(t *testing.T) {
	d, logs := stateDaemon(t, appProfile)
	ann := map[string]string{profiles.LabelProfile: "app", profiles.LabelMode: "enforce", profiles.AnnotationDigest: "sha256:x"}
	pid := os.Getpid() // a live process: its start time is read
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("c%d", i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := d.registerFromHook(context.Background(), "ns", api.State{ID: id, Pid: pid, Annotations: ann}); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			d.registerFromContainerd(&watch.Container{Namespace: "ns", ID: id, Pid: uint32(pid), Status: "created", Annotations: ann}, sourceEvent)
		}()
	}
	wg.Wait()
	if got := len(d.reg.all()); got != n {
		t.Fatalf("%d records, want %d", got, n)
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("c%d", i)
		if k := strings.Count(logs.String(), "container="+id+" "); k == 0 {
			t.Errorf("%s: never logged", id)
		}
		if k := strings.Count(logs.String(), `msg="container registered" namespace=ns container=`+id+" "); k != 1 {
			t.Errorf("%s registered %d times, want once", id, k)
		}
		c := d.reg.get("ns", id)
		if p := c.profile(); p == nil || p.Name != "app" || p.Mode != profiles.ModeEnforce {
			t.Errorf("%s: profile %+v, want app with the enforce override", id, p)
		}
	}
}

// TestReloadSwapsDecisionWhole: readers on the exec path see a profile
// and the rules compiled from it, never one with the other's rules, while
// reloads replace them; the mode override survives.
func TestReloadSwapsDecisionWhole(t *testing.T) {
	d, _ := stateDaemon(t, appProfile+"exec:\n  allow: [/bin/a]\n")
	if err := d.registerFromHook(context.Background(), "ns", api.State{ID: "c1", Pid: os.Getpid(),
		Annotations: map[string]string{profiles.LabelProfile: "app", profiles.LabelMode: "enforce"}}); err != nil {
		t.Fatal(err)
	}
	c := d.reg.get("ns", "c1")
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				dec := c.decision()
				allowed := dec.Profile.Exec.Allow[0]
				snap := snapshot{PID: 1, Exe: allowed}
				if v := dec.checker.set.EvaluateExec(snap); len(v) != 0 {
					t.Errorf("profile allows %s but its rules say %v", allowed, v)
					return
				}
				if dec.Profile.Mode != profiles.ModeEnforce {
					t.Errorf("mode override lost: %s", dec.Profile.Mode)
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		yaml := appProfile + fmt.Sprintf("exec:\n  allow: [/bin/a%d]\n", i)
		if err := os.WriteFile(filepath.Join(d.cfg.ProfilesDir, "app.yaml"), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		d.reload("test")
		if got := c.profile().Exec.Allow[0]; got != fmt.Sprintf("/bin/a%d", i) {
			t.Fatalf("after reload %d: exec.allow %s", i, got)
		}
	}
	close(done)
	wg.Wait()
}

// closer counts Close calls.
type closer struct{ n int }

func (c *closer) Close() error { c.n++; return nil }

// TestPublishAfterRelease: what is built for a container outside the lock
// is kept while it is registered, replaces (and closes) what it had, and
// is closed at once when the container was forgotten meanwhile.
func TestPublishAfterRelease(t *testing.T) {
	var mu sync.Mutex
	c := &container{}
	var field *closer
	a, b, late := &closer{}, &closer{}, &closer{}
	if !publish(&mu, c, &field, a) || field != a || a.n != 0 {
		t.Fatal("first value not kept")
	}
	if !publish(&mu, c, &field, b) || field != b || a.n != 1 || b.n != 0 {
		t.Fatalf("replacement: field %p, closes %d/%d", field, a.n, b.n)
	}
	c.removed = true
	if publish(&mu, c, &field, late) || late.n != 1 || field != b {
		t.Fatalf("published after removal: kept %v, closes %d", field == late, late.n)
	}
}

// withDecision gives a record built by a test the profile p (no rules).
func withDecision(p *profiles.Profile, c *container) *container {
	c.dec.Store(&decision{Profile: p, Digest: profiles.Digest(p)})
	return c
}
