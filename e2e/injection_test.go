package e2e

// Injection end to end: a private containerd runs containers through
// confine-runc (ctr run --runc-binary) and the real runc, with confined's
// real API server and a fake backend on run_dir/api.sock.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/hooks/hookstest"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/atomicfile"
	"github.com/confinehq/confine/internal/e2e"
	"github.com/confinehq/confine/internal/testbed"
	"github.com/confinehq/confine/profiles"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ---- the setup: containerd whose shims read our confine.toml ----

type injBed struct {
	t        *testing.T
	c        *testbed.Containerd
	bin      string
	runc     string // confine-runc
	dir      string // short: holds run dirs and confine.toml
	conf     string // CONFINE_CONFIG
	runDir   string // where the fake confined listens
	profDir  string
	backend  *injBackend
	realRunc string
}

// injBackend is the fake confined: it selects "web" for containers labelled
// confine.profile=web (labels from containerd, as the daemon does) and the
// embedded baseline otherwise, and notes what the container's init process
// is when the createRuntime hook arrives.
type injBackend struct {
	*hookstest.Backend
	mu    sync.Mutex
	comms map[string]string // container id -> /proc/PID/comm at createRuntime
}

func (b *injBackend) Hook(ctx context.Context, req api.HookRequest) error {
	if req.Stage == api.StageCreateRuntime && req.State.Pid > 0 {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", req.State.Pid))
		b.mu.Lock()
		b.comms[req.State.ID] = strings.TrimSpace(string(comm))
		b.mu.Unlock()
	}
	return b.Backend.Hook(ctx, req)
}

func (b *injBackend) comm(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.comms[id]
}

// webProfile denies mkdir on top of Docker's default, sets
// no-new-privileges and masks /etc/shadow.
func injWebProfile() *profiles.Profile {
	return &profiles.Profile{
		APIVersion: profiles.APIVersion, Name: "web", Mode: profiles.ModeEnforce,
		Seccomp:    profiles.Seccomp{Base: profiles.BaseDockerDefault, DefaultAction: profiles.ActionErrno, Deny: profiles.List{"mkdir", "mkdirat"}},
		Files:      profiles.Files{Deny: profiles.List{"/etc/shadow", "/run/secrets/**"}},
		Privileges: profiles.Privileges{NoNewPrivileges: profiles.Bool(true)},
	}
}

// The same profile as a file, for fail_mode open (resolved locally).
const injWebYAML = `apiVersion: confine/v1
name: web
mode: enforce
seccomp:
  base: docker-default
  defaultAction: errno
  deny: [mkdir, mkdirat]
files:
  deny: ["/etc/shadow"]
privileges:
  noNewPrivileges: true
`

func startInjBed(t *testing.T) *injBed {
	t.Helper()
	testbed.RequiresRoot(t)
	testbed.RequireTools(t, "runc")
	b := &injBed{t: t, bin: e2e.Binaries(t)}
	b.runc = filepath.Join(b.bin, "confine-runc")
	b.realRunc = testbed.RuncPath()
	d, err := os.MkdirTemp("", "cfinj")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	b.dir = d
	b.conf = filepath.Join(d, "confine.toml")
	b.runDir = filepath.Join(d, "run")
	b.profDir = filepath.Join(d, "profiles.d")
	if err := os.MkdirAll(b.profDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.profDir, "web.yaml"), []byte(injWebYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	b.writeConf("closed", b.runDir, b.realRunc)
	// The shims inherit containerd's environment: that is how confine-runc
	// and confine-hook find this configuration.
	b.c = testbed.StartWith(t, testbed.Options{Env: []string{"CONFINE_CONFIG=" + b.conf}})

	b.backend = &injBackend{Backend: hookstest.NewBackend(injWebProfile()), comms: map[string]string{}}
	b.backend.SetDecideFunc(func(req api.DecideRequest) (*api.Decision, error) {
		ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), req.Namespace), 2*time.Second)
		defer cancel()
		p := profiles.Baseline()
		reason := "default"
		if ctr, err := b.c.Client.LoadContainer(ctx, req.ID); err == nil {
			if labels, err := ctr.Labels(ctx); err == nil {
				switch labels[profiles.LabelProfile] {
				case "web":
					p, reason = injWebProfile(), "label"
				case "plain":
					p, reason = &profiles.Profile{APIVersion: profiles.APIVersion, Name: "plain", Mode: profiles.ModeEnforce}, "label"
				}
			}
		}
		return &api.Decision{Profile: p, Digest: profiles.Digest(p), Reason: reason}, nil
	})
	hookstest.Serve(t, filepath.Join(b.runDir, api.SocketName), b.backend)
	return b
}

// writeConf rewrites confine.toml atomically: shims read it at every call.
func (b *injBed) writeConf(failMode, runDir, runc string) {
	b.t.Helper()
	conf := fmt.Sprintf("run_dir = %q\nrunc_path = %q\nhook_path = %q\nprofiles_dir = %q\nfail_mode = %q\n",
		runDir, runc, filepath.Join(b.bin, "confine-hook"), b.profDir, failMode)
	if err := atomicfile.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *injBed) bundle(id string) string {
	return filepath.Join(b.c.State, "io.containerd.runtime.v2.task", b.c.Namespace, id)
}

// ctr runs ctr and returns stdout, stderr and the exit status.
func (b *injBed) ctr(args ...string) (string, string, int) {
	b.t.Helper()
	out, errOut, err := b.c.Ctr(args...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, errOut, 0
	case errors.As(err, &ee):
		return out, errOut, ee.ExitCode()
	}
	b.t.Fatalf("ctr %v: %v", args, err)
	return "", "", -1
}

func (b *injBed) mustCtr(args ...string) string {
	b.t.Helper()
	out, errOut, code := b.ctr(args...)
	if code != 0 {
		b.t.Fatalf("ctr %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func (b *injBed) taskStatus(id string) string {
	b.t.Helper()
	out := b.mustCtr("task", "ls")
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == id {
			return f[2]
		}
	}
	return ""
}

// readSpec reads the spec runc read: confine-runc's private copy (the
// bundle's own config.json is left as containerd wrote it).
func (b *injBed) readSpec(id string) *specs.Spec {
	b.t.Helper()
	return b.readSpecIn(b.runDir, id)
}

func (b *injBed) readSpecIn(runDir, id string) *specs.Spec {
	b.t.Helper()
	cp, _ := hooks.FindCopy(runDir, b.bundle(id), id)
	if cp == "" {
		b.t.Fatalf("no private copy of %s's spec under %s", id, runDir)
	}
	data, err := os.ReadFile(cp)
	if err != nil {
		b.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		b.t.Fatal(err)
	}
	return &s
}

// injProbe prints what the injection should change, one fact per line.
const injProbe = `grep -E '^(Seccomp|NoNewPrivs):' /proc/1/status
if mkdir /probe 2>/tmp/err; then echo mkdir=allowed; else echo "mkdir=denied: $(cat /tmp/err)"; fi
echo "shadow=[$(cat /etc/shadow 2>&1)]"`

func injAssertEnforced(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{
		"Seccomp:\t2",
		"NoNewPrivs:\t1",
		"mkdir=denied: mkdir: can't create directory '/probe': Operation not permitted",
		"shadow=[]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("container output lacks %q:\n%s", want, out)
		}
	}
}

func TestInjection(t *testing.T) {
	b := startInjBed(t)

	t.Run("profile selected by label is injected and enforced", func(t *testing.T) {
		b.t = t
		id := testbed.UniqueID("inj")
		// --allow-new-privs: containerd's default spec sets
		// noNewPrivileges; turning it off shows that the profile sets it.
		b.mustCtr("run", "-d", "--runc-binary", b.runc, "--allow-new-privs", "--label", "confine.profile=web", b.c.ImageRef, id, "sleep", "600")
		defer b.ctr("task", "kill", "-s", "SIGKILL", id)

		task, err := b.c.Client.LoadContainer(b.c.Context(context.Background()), id)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := task.Task(b.c.Context(context.Background()), nil)
		if err != nil {
			t.Fatal(err)
		}
		pid := int(tk.Pid())

		// confine-hook registered the init PID at createRuntime, while
		// that process was still runc's init: before user code ran.
		var reg *hookstest.Hook
		for _, h := range b.backend.Hooks() {
			if h.Stage == api.StageCreateRuntime && h.State.ID == id {
				reg = &h
			}
		}
		if reg == nil {
			t.Fatalf("no createRuntime hook for %s; got %+v", id, b.backend.Hooks())
		}
		if reg.State.Pid != pid {
			t.Errorf("hook pid = %d, task pid = %d", reg.State.Pid, pid)
		}
		if comm := b.backend.comm(id); comm != "runc:[2:INIT]" {
			t.Errorf("at createRuntime the init process was %q, want runc:[2:INIT] (user code not yet started)", comm)
		}
		if reg.State.Bundle != b.bundle(id) || reg.State.Annotations["confine.profile"] != "web" {
			t.Errorf("hook state = %+v", reg.State)
		}

		// The bundle is as containerd wrote it; runc read the private copy.
		raw, err := os.ReadFile(filepath.Join(b.bundle(id), "config.json"))
		if err != nil || bytes.Contains(raw, []byte("confine.digest")) || bytes.Contains(raw, []byte("confine-hook")) {
			t.Errorf("the bundle's config.json was edited (err %v)", err)
		}
		s := b.readSpec(id)
		for k, v := range map[string]string{"confine.profile": "web", "confine.mode": "enforce", "confine.digest": profiles.Digest(injWebProfile())} {
			if s.Annotations[k] != v {
				t.Errorf("annotation %s = %q, want %q", k, s.Annotations[k], v)
			}
		}
		hookPath := filepath.Join(b.bin, "confine-hook")
		if s.Hooks == nil || len(s.Hooks.CreateRuntime) != 1 || s.Hooks.CreateRuntime[0].Path != hookPath ||
			len(s.Hooks.Poststop) != 1 || s.Hooks.Poststop[0].Path != hookPath {
			t.Errorf("hooks = %+v", s.Hooks)
		}
		if s.Linux.Seccomp == nil || !injContains(s.Linux.MaskedPaths, "/etc/shadow") || !s.Process.NoNewPrivileges {
			t.Errorf("spec lacks the injection: seccomp=%v masked=%v nnp=%v", s.Linux.Seccomp != nil, s.Linux.MaskedPaths, s.Process.NoNewPrivileges)
		}
		dec := b.backend.Decides()
		if last := dec[len(dec)-1]; last.Namespace != b.c.Namespace || last.ID != id || last.Bundle != b.bundle(id) {
			t.Errorf("decide request = %+v", last)
		}

		out := b.mustCtr("task", "exec", "--exec-id", "probe", id, "sh", "-c", injProbe)
		injAssertEnforced(t, out)
	})

	t.Run("every other command passes through", func(t *testing.T) {
		b.t = t
		id := testbed.UniqueID("inj")
		b.mustCtr("run", "-d", "--runc-binary", b.runc, b.c.ImageRef, id, "sleep", "600")

		out, _, code := b.ctr("task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo from-exec; exit 3")
		if code != 3 || !strings.Contains(out, "from-exec") {
			t.Errorf("exec: exit %d, output %q; want 3 and from-exec", code, out)
		}
		if ps := b.mustCtr("task", "ps", id); !strings.Contains(ps, "PID") || len(strings.Split(strings.TrimSpace(ps), "\n")) < 2 {
			t.Errorf("ps = %q", ps)
		}
		b.mustCtr("task", "pause", id)
		if st := b.taskStatus(id); st != "PAUSED" {
			t.Errorf("after pause: %s", st)
		}
		b.mustCtr("task", "resume", id)
		if st := b.taskStatus(id); st != "RUNNING" {
			t.Errorf("after resume: %s", st)
		}
		b.mustCtr("task", "kill", "-s", "SIGKILL", id)
		deadline := time.Now().Add(10 * time.Second)
		for b.taskStatus(id) != "STOPPED" && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if st := b.taskStatus(id); st != "STOPPED" {
			t.Fatalf("after kill: %s", st)
		}
		before := len(b.backend.Hooks())
		b.mustCtr("task", "delete", id)
		b.mustCtr("container", "delete", id)
		if st := b.taskStatus(id); st != "" {
			t.Errorf("task still listed after delete: %s", st)
		}
		if _, err := os.Stat(b.bundle(id)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("bundle still there after delete: %v", err)
		}
		// runc delete ran the poststop hook: confined heard of it.
		var sawPoststop bool
		for _, h := range b.backend.Hooks()[before:] {
			sawPoststop = sawPoststop || (h.Stage == api.StagePoststop && h.State.ID == id)
		}
		if !sawPoststop {
			t.Error("no poststop hook request after delete")
		}
	})

	t.Run("exit status is runc's", func(t *testing.T) {
		b.t = t
		for _, rt := range []string{b.realRunc, b.runc} {
			id := testbed.UniqueID("inj")
			_, errOut, code := b.ctr("run", "--rm", "--runc-binary", rt, b.c.ImageRef, id, "sh", "-c", "exit 7")
			if code != 7 {
				t.Errorf("%s: ctr run exit %d, want 7 (%s)", filepath.Base(rt), code, errOut)
			}
		}
	})

	t.Run("fail closed: refused with a readable error", func(t *testing.T) {
		b.t = t
		nobody := filepath.Join(b.dir, "nobody")
		b.writeConf("closed", nobody, b.realRunc)
		defer b.writeConf("closed", b.runDir, b.realRunc)
		id := testbed.UniqueID("inj")
		out, errOut, code := b.ctr("run", "--rm", "--runc-binary", b.runc, b.c.ImageRef, id, "echo", "ran")
		if code == 0 || strings.Contains(out, "ran") {
			t.Fatalf("container ran: exit %d, %q", code, out)
		}
		want := fmt.Sprintf("confine-runc: confined is not reachable at %s/api.sock; refusing to create container %s (fail_mode=closed)", nobody, id)
		if !strings.Contains(errOut, want) {
			t.Errorf("ctr printed:\n%s\nwant it to contain\n%s", errOut, want)
		}
		if st := b.taskStatus(id); st != "" {
			t.Errorf("task exists: %s", st)
		}
	})

	t.Run("fail open: runs with the locally resolved profile", func(t *testing.T) {
		b.t = t
		b.writeConf("open", filepath.Join(b.dir, "nobody"), b.realRunc)
		defer b.writeConf("closed", b.runDir, b.realRunc)
		id := testbed.UniqueID("inj")
		b.mustCtr("run", "-d", "--runc-binary", b.runc, "--allow-new-privs", "--annotation", "confine.profile=web", b.c.ImageRef, id, "sleep", "600")
		defer b.ctr("task", "kill", "-s", "SIGKILL", id)
		s := b.readSpecIn(filepath.Join(b.dir, "nobody"), id)
		if s.Annotations["confine.profile"] != "web" {
			t.Errorf("annotations = %v", s.Annotations)
		}
		log, _ := os.ReadFile(filepath.Join(b.bundle(id), "log.json"))
		if !strings.Contains(string(log), `gets profile \"web\" (annotation)`) || !strings.Contains(string(log), "fail_mode=open") {
			t.Errorf("log.json does not say the profile was resolved locally:\n%s", log)
		}
		injAssertEnforced(t, b.mustCtr("task", "exec", "--exec-id", "probe", id, "sh", "-c", injProbe))
	})

	t.Run("missing real runc through ctr", func(t *testing.T) {
		b.t = t
		b.writeConf("closed", b.runDir, filepath.Join(b.dir, "no-such-runc"))
		defer b.writeConf("closed", b.runDir, b.realRunc)
		id := testbed.UniqueID("inj")
		_, errOut, code := b.ctr("run", "--rm", "--runc-binary", b.runc, b.c.ImageRef, id, "echo", "ran")
		want := fmt.Sprintf("real runc (runc_path) %s: no such file or directory; refusing to create container %s", filepath.Join(b.dir, "no-such-runc"), id)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, ctr printed:\n%s\nwant\n%s", code, errOut, want)
		}
	})
}

// TestInjectionBadInput runs the binaries the way runc and the shim do, on
// bad input: each case must fail with a clear message and leave the files
// exactly as they were.
func TestInjectionBadInput(t *testing.T) {
	testbed.RequiresRoot(t)
	bin := e2e.Binaries(t)
	dir := t.TempDir()
	conf := func(failMode, runc string) string {
		p := filepath.Join(dir, failMode+"-"+filepath.Base(runc)+".toml")
		body := fmt.Sprintf("run_dir = %q\nrunc_path = %q\nhook_path = %q\nfail_mode = %q\n",
			filepath.Join(dir, "run"), runc, filepath.Join(bin, "confine-hook"), failMode)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fixture, err := os.ReadFile("../testdata/bundles/containerd/config.json")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("hook stdin", func(t *testing.T) {
		state := `{"ociVersion":"1.0.2-dev","id":"c1","status":"creating","pid":1,"bundle":"/b"}`
		tests := []struct {
			name, failMode, stdin string
			wantCode              int
			wantStderr            string
		}{
			{name: "malformed, closed", failMode: "closed", stdin: `{"id":`, wantCode: 1, wantStderr: "invalid hook state: truncated JSON"},
			{name: "huge, closed", failMode: "closed", stdin: `{"id":"` + strings.Repeat("x", 1<<20) + `"}`, wantCode: 1, wantStderr: "more than 65536 bytes on stdin"},
			{name: "unknown field, closed", failMode: "closed", stdin: `{"id":"c1","bogus":1}`, wantCode: 1, wantStderr: "field bogus: unknown field"},
			{name: "malformed, open", failMode: "open", stdin: `nope`, wantCode: 0, wantStderr: "warning: createRuntime hook: invalid hook state"},
			{name: "valid, confined down, closed", failMode: "closed", stdin: state, wantCode: 1, wantStderr: "confined is not reachable"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cmd := exec.Command(filepath.Join(bin, "confine-hook"), "createRuntime")
				cmd.Env = []string{"CONFINE_CONFIG=" + conf(tt.failMode, "/usr/bin/runc")}
				cmd.Stdin = strings.NewReader(tt.stdin)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantStderr) {
					t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.wantCode, tt.wantStderr)
				}
				if tt.failMode == "closed" && !strings.Contains(stderr.String(), "fail_mode=closed") {
					t.Errorf("stderr does not name the fail mode: %q", stderr.String())
				}
			})
		}
	})

	t.Run("confine-runc create", func(t *testing.T) {
		tests := []struct {
			name     string
			spec     []byte // nil: no config.json
			runc     string
			wantLogs []string
		}{
			// runc refuses it by itself: its own words reach the user.
			{name: "bundle without config.json", runc: testbed.RuncPath(), wantLogs: []string{"JSON specification file config.json not found"}},
			{name: "unparseable config.json", spec: []byte("{\"ociVersion\": \"1.0.2\",\n \"process\": {"), runc: "/usr/bin/runc", wantLogs: []string{"container {id}: parsing OCI spec {bundle}/config.json: line 2: unexpected end of JSON input; nothing was changed"}},
			{name: "missing real runc", spec: fixture, runc: filepath.Join(dir, "no-runc"), wantLogs: []string{"real runc (runc_path) " + filepath.Join(dir, "no-runc") + ": no such file or directory; refusing to create container {id}"}},
			{name: "runc_path is confine-runc", spec: fixture, runc: filepath.Join(bin, "confine-runc"), wantLogs: []string{"is confine-runc itself: refusing to exec in a loop"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := testbed.UniqueID("bad")
				bundle := filepath.Join(t.TempDir(), "ns", id)
				logDir := t.TempDir()
				if err := os.MkdirAll(bundle, 0o755); err != nil {
					t.Fatal(err)
				}
				if tt.spec != nil {
					if err := os.WriteFile(filepath.Join(bundle, "config.json"), tt.spec, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				before := injSnapshot(t, bundle)
				logPath := filepath.Join(logDir, "log.json")
				cmd := exec.Command(filepath.Join(bin, "confine-runc"), "--root", filepath.Join(logDir, "state"), "--log", logPath, "--log-format", "json",
					"create", "--bundle", bundle, "--pid-file", filepath.Join(bundle, "init.pid"), id)
				cmd.Env = []string{"CONFINE_CONFIG=" + conf("closed", tt.runc)}
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Fatalf("confine-runc: %v (want exit 1); stderr %s", err, stderr.String())
				}
				log, _ := os.ReadFile(logPath)
				for _, w := range tt.wantLogs {
					w = strings.NewReplacer("{id}", id, "{bundle}", bundle).Replace(w)
					if !strings.Contains(stderr.String(), w) {
						t.Errorf("stderr %q lacks %q", stderr.String(), w)
					}
					if !strings.Contains(string(log), `"level":"error"`) || !strings.Contains(string(log), injJSONEscape(w)) {
						t.Errorf("log.json %s lacks an error %q", log, w)
					}
				}
				if after := injSnapshot(t, bundle); after != before {
					t.Errorf("bundle changed:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	})
}

// injSnapshot describes every file under dir (name, mode, content hash).
func injSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var parts []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		entry := fmt.Sprintf("%s %v", strings.TrimPrefix(p, dir), info.Mode())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += fmt.Sprintf(" sha256:%x", sha256.Sum256(data))
		}
		parts = append(parts, entry)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(parts, "\n")
}

func injJSONEscape(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

func injContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
