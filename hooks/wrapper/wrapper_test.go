package wrapper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/hooks/hookstest"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/profiles"
	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var testFilter = &specs.LinuxSeccomp{
	DefaultAction: specs.ActAllow,
	Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}},
}

func fakeSeccomp(p *profiles.Profile, goarch, listener string) (*specs.LinuxSeccomp, error) {
	if p.Seccomp.IsZero() {
		return nil, nil
	}
	if goarch == "" {
		return nil, errors.New("no arch")
	}
	f := *testFilter
	f.ListenerPath = listener
	return &f, nil
}

func webProfile() *profiles.Profile {
	return &profiles.Profile{
		APIVersion: profiles.APIVersion, Name: "web", Mode: profiles.ModeEnforce,
		Seccomp:    profiles.Seccomp{DefaultAction: "errno", Deny: profiles.List{"mkdir"}, Base: profiles.BaseDockerDefault},
		Files:      profiles.Files{Deny: profiles.List{"/etc/shadow"}},
		Privileges: profiles.Privileges{NoNewPrivileges: profiles.Bool(true)},
	}
}

const webYAML = `apiVersion: confine/v1
name: web
mode: monitor
files:
  deny: ["/etc/shadow"]
`

type execCall struct {
	path string
	argv []string
	env  []string
}

type env struct {
	t       *testing.T
	root    string
	bundle  string // <root>/state/default/c1
	runc    string
	hook    string
	cfg     *config.Config
	backend *hookstest.Backend
	calls   []execCall
	stderr  bytes.Buffer
	orig    []byte
	// overlays are the Overlay calls: the copy runc reads, the file it
	// is mounted over, and the placeholder that file is bound onto.
	overlays [][3]string
	// runcHelp is what `runc CMD --help` prints.
	runcHelp string
}

func newEnv(t *testing.T, failMode string, serve bool) *env {
	t.Helper()
	root, err := os.MkdirTemp("", "cr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	e := &env{t: t, root: root}
	e.bundle = filepath.Join(root, "io.containerd.runtime.v2.task", "default", "c1")
	mustMkdir(t, e.bundle)
	e.orig, err = os.ReadFile("../../testdata/bundles/containerd/config.json")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(e.bundle, "config.json"), e.orig, 0o644)
	e.runc = filepath.Join(root, "bin", "runc")
	e.hook = filepath.Join(root, "bin", "confine-hook")
	mustMkdir(t, filepath.Dir(e.runc))
	writeFile(t, e.runc, []byte("#!/bin/sh\n"), 0o755)
	writeFile(t, e.hook, []byte("#!/bin/sh\n"), 0o755)
	cfg := config.Default()
	cfg.RunDir = filepath.Join(root, "run")
	cfg.RuncPath = e.runc
	cfg.HookPath = e.hook
	cfg.FailMode = failMode
	cfg.ProfilesDir = filepath.Join(root, "profiles.d")
	cfg.Path = filepath.Join(root, "confine.toml")
	mustMkdir(t, cfg.ProfilesDir)
	writeFile(t, filepath.Join(cfg.ProfilesDir, "web.yaml"), []byte(webYAML), 0o644)
	e.cfg = cfg
	e.backend = hookstest.NewBackend(webProfile())
	if serve {
		hookstest.Serve(t, cfg.APISocket(), e.backend)
	}
	return e
}

func mustMkdir(t *testing.T, d string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

// containerdArgs is the shim's create command line for c1.
func (e *env) containerdArgs(cmd ...string) []string {
	return append([]string{"/usr/local/bin/confine-runc",
		"--root", "/run/containerd/runc/default", "--log", filepath.Join(e.bundle, "log.json"), "--log-format", "json"}, cmd...)
}

func (e *env) createArgs() []string {
	return e.containerdArgs("create", "--bundle", e.bundle, "--pid-file", filepath.Join(e.bundle, "init.pid"), "c1")
}

func (e *env) wrapper(args []string) *Wrapper {
	w := New(args, e.cfg, nil)
	w.Env = []string{"PATH=/usr/bin", "CONFINE_CONFIG=" + e.cfg.Path}
	w.Stderr = &e.stderr
	w.Getwd = func() (string, error) { return e.bundle, nil }
	w.Executable = func() (string, error) { return "/usr/local/bin/confine-runc", nil }
	w.Exec = func(path string, argv, env []string) error {
		e.calls = append(e.calls, execCall{path, argv, env})
		return nil
	}
	w.Filter = fakeSeccomp
	w.Overlay = func(cp, target, placeholder string) error {
		e.overlays = append(e.overlays, [3]string{cp, target, placeholder})
		return nil
	}
	w.RuncHelp = func(runc, cmd string) ([]byte, error) {
		if runc != e.runc {
			e.t.Errorf("help asked of %s, want %s", runc, e.runc)
		}
		return []byte(e.runcHelp), nil
	}
	return w
}

// spec is the spec runc reads: the private copy put over the bundle's
// config.json.
func (e *env) spec() *specs.Spec {
	e.t.Helper()
	if len(e.overlays) != 1 {
		e.t.Fatalf("%d overlays, want 1: %v", len(e.overlays), e.overlays)
	}
	if want := filepath.Join(e.bundle, "config.json"); e.overlays[0][1] != want {
		e.t.Errorf("overlay target = %s, want %s", e.overlays[0][1], want)
	}
	data, err := os.ReadFile(e.overlays[0][0])
	if err != nil {
		e.t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		e.t.Fatal(err)
	}
	return &s
}

func (e *env) assertUnchanged() {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.bundle, "config.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	if !bytes.Equal(data, e.orig) {
		e.t.Error("config.json was changed")
	}
	es, _ := os.ReadDir(e.bundle)
	for _, de := range es {
		if de.Name() != "config.json" && de.Name() != "log.json" {
			e.t.Errorf("bundle gained %s", de.Name())
		}
	}
}

// lastLogError is what containerd would show the user.
func (e *env) lastLogError() string {
	data, _ := os.ReadFile(filepath.Join(e.bundle, "log.json"))
	var last string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var l struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == "error" {
			last = l.Msg
		}
	}
	return last
}

func (e *env) logText() string {
	data, _ := os.ReadFile(filepath.Join(e.bundle, "log.json"))
	return string(data)
}

func (e *env) assertExecOriginal(args []string) {
	e.t.Helper()
	if len(e.calls) != 1 {
		e.t.Fatalf("runc exec'd %d times, want once", len(e.calls))
	}
	c := e.calls[0]
	if c.path != e.runc {
		e.t.Errorf("exec path = %s, want %s", c.path, e.runc)
	}
	// argv is exactly confine-runc's, its argv[0] included.
	if diff := cmp.Diff(args, c.argv); diff != "" {
		e.t.Errorf("argv (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"PATH=/usr/bin", "CONFINE_CONFIG=" + e.cfg.Path}, c.env); diff != "" {
		e.t.Errorf("env (-want +got):\n%s", diff)
	}
}

func TestCreateInjectsDecision(t *testing.T) {
	e := newEnv(t, config.FailClosed, true)
	args := e.createArgs()
	if err := e.wrapper(args).Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, e.stderr.String())
	}
	e.assertExecOriginal(args)
	e.assertUnchanged()

	decides := e.backend.Decides()
	if len(decides) != 1 {
		t.Fatalf("%d decide requests", len(decides))
	}
	want := api.DecideRequest{Namespace: "default", ID: "c1", Bundle: e.bundle, Annotations: map[string]string{"io.example/owner": "team-a", "confine.profile": "web"}}
	if diff := cmp.Diff(want, decides[0]); diff != "" {
		t.Errorf("decide request (-want +got):\n%s", diff)
	}

	s := e.spec()
	if diff := cmp.Diff(testFilter, s.Linux.Seccomp); diff != "" {
		t.Errorf("seccomp (-want +got):\n%s", diff)
	}
	if !s.Process.NoNewPrivileges {
		t.Error("noNewPrivileges not set")
	}
	if !contains(s.Linux.MaskedPaths, "/etc/shadow") {
		t.Errorf("maskedPaths = %v", s.Linux.MaskedPaths)
	}
	wantAnn := map[string]string{"io.example/owner": "team-a", "confine.profile": "web", "confine.mode": "enforce", "confine.digest": profiles.Digest(webProfile()), "confine.decision": "confined", "confine.runc.root": "/run/containerd/runc/default"}
	if diff := cmp.Diff(wantAnn, s.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	cr := s.Hooks.CreateRuntime
	if len(cr) != 2 || cr[1].Path != e.hook || cmp.Diff([]string{"confine-hook", "createRuntime"}, cr[1].Args) != "" ||
		cmp.Diff([]string{"CONFINE_CONFIG=" + e.cfg.Path}, cr[1].Env) != "" {
		t.Errorf("createRuntime hooks = %+v", cr)
	}
	if len(s.Hooks.Poststop) != 1 || s.Hooks.Poststop[0].Args[1] != "poststop" {
		t.Errorf("poststop hooks = %+v", s.Hooks.Poststop)
	}
	if e.stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing (it may be the container's)", e.stderr.String())
	}
	if !strings.Contains(e.logText(), `profile \"web\" (mode enforce`) {
		t.Errorf("log = %s", e.logText())
	}
}

// TestMountOfOwnConfigJSON: a bind mount of the bundle's own config.json
// is pointed at the placeholder the user's file is bound onto, in the copy
// only; without one, no placeholder.
func TestMountOfOwnConfigJSON(t *testing.T) {
	e := newEnv(t, config.FailClosed, true)
	var s specs.Spec
	if err := json.Unmarshal(e.orig, &s); err != nil {
		t.Fatal(err)
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/cfg", Source: "./config.json", Options: []string{"bind"}})
	orig, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	e.orig = orig
	writeFile(t, filepath.Join(e.bundle, "config.json"), orig, 0o644)
	if err := e.wrapper(e.createArgs()).Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, e.stderr.String())
	}
	e.assertUnchanged()
	got := e.spec()
	ph := filepath.Join(hooks.CopyDir(e.cfg.RunDir, "/run/containerd/runc/default", "c1"), hooks.BundleConfigFile)
	if e.overlays[0][2] != ph {
		t.Errorf("placeholder %q, want %q", e.overlays[0][2], ph)
	}
	if st, err := os.Stat(ph); err != nil || st.Size() != 0 {
		t.Errorf("placeholder file: %v %v", st, err)
	}
	last := got.Mounts[len(got.Mounts)-1]
	if last.Destination != "/cfg" || last.Source != ph {
		t.Errorf("mount in the copy = %+v, want source %s", last, ph)
	}

	plain := newEnv(t, config.FailClosed, true)
	if err := plain.wrapper(plain.createArgs()).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if plain.overlays[0][2] != "" {
		t.Errorf("placeholder %q for a spec that does not mount its config.json", plain.overlays[0][2])
	}
}

func TestCreateForms(t *testing.T) {
	tests := []struct {
		name string
		cmd  func(e *env) []string
	}{
		{name: "-b", cmd: func(e *env) []string { return e.containerdArgs("create", "-b", e.bundle, "c1") }},
		{name: "--bundle=", cmd: func(e *env) []string { return e.containerdArgs("create", "--bundle="+e.bundle, "c1") }},
		{name: "working directory", cmd: func(e *env) []string { return e.containerdArgs("create", "--pid-file", "p", "c1") }},
		{name: "run", cmd: func(e *env) []string { return e.containerdArgs("run", "-d", "--bundle", e.bundle, "c1") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, config.FailClosed, true)
			args := tt.cmd(e)
			if err := e.wrapper(args).Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			e.assertExecOriginal(args)
			e.assertUnchanged()
			if e.spec().Annotations["confine.profile"] != "web" || len(e.backend.Decides()) != 1 {
				t.Error("not injected")
			}
		})
	}
}

// Every other command goes to runc unchanged, without asking confined and
// without touching the bundle.
func TestPassThrough(t *testing.T) {
	cmds := [][]string{
		{"start", "c1"},
		{"exec", "--process", "/tmp/p.json", "--detach", "--pid-file", "/x/e1.pid", "c1"},
		{"ps", "--format", "json", "c1"},
		{"pause", "c1"}, {"resume", "c1"},
		{"kill", "c1", "15"}, {"kill", "--all", "c1", "9"},
		{"delete", "c1"}, {"delete", "--force", "c1"},
		{"state", "c1"}, {"features"}, {"--version"}, {},
		{"--new-global-flag", "start", "c1"},
	}
	for _, cmd := range cmds {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			e := newEnv(t, config.FailClosed, true)
			args := e.containerdArgs(cmd...)
			if err := e.wrapper(args).Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			e.assertExecOriginal(args)
			if n := len(e.backend.Decides()); n != 0 {
				t.Errorf("confined asked %d times", n)
			}
			if len(e.overlays) != 0 {
				t.Errorf("overlays %v", e.overlays)
			}
			e.assertUnchanged()
		})
	}
}

func TestPassThroughWithBrokenConfig(t *testing.T) {
	e := newEnv(t, config.FailClosed, false)
	args := e.containerdArgs("delete", "--force", "c1")
	w := e.wrapper(args)
	w.Config, w.ConfigErr = nil, errors.New("/etc/confine/confine.toml:3: unknown key \"fail_mod\"")
	if err := w.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(e.calls) != 1 || e.calls[0].path != config.Default().RuncPath {
		t.Fatalf("exec calls = %+v, want the default runc", e.calls)
	}
	if !strings.Contains(e.logText(), `unknown key`) || !strings.Contains(e.logText(), `passing \"delete\" through`) {
		t.Errorf("log = %s", e.logText())
	}
}

func TestCreateRefusals(t *testing.T) {
	tests := []struct {
		name     string
		failMode string
		serve    bool
		setup    func(e *env, w *Wrapper) []string // returns args
		wantErr  string
	}{
		{
			name: "confined unreachable, fail closed", failMode: config.FailClosed,
			wantErr: "confined is not reachable at {run}/api.sock; refusing to create container c1 (fail_mode=closed)",
		},
		{
			name: "configuration unreadable", failMode: config.FailOpen, serve: true,
			setup: func(e *env, w *Wrapper) []string {
				w.Config, w.ConfigErr = nil, errors.New("reading configuration: open /nope.toml: no such file or directory")
				return nil
			},
			wantErr: "reading configuration: open /nope.toml: no such file or directory; refusing to create container c1",
		},
		{
			name: "confined refuses the container", failMode: config.FailOpen, serve: true,
			setup: func(e *env, w *Wrapper) []string {
				e.backend.SetDecideErr(errors.New(`profile "nope" named by label confine.profile does not exist`))
				return nil
			},
			wantErr: `refusing to create container default/c1: confined: profile "nope" named by label confine.profile does not exist`,
		},
		{
			name: "unparseable config.json", failMode: config.FailOpen, serve: true,
			setup: func(e *env, w *Wrapper) []string {
				e.orig = []byte(`{"ociVersion": "1.0.2", "process": `)
				writeFile(e.t, filepath.Join(e.bundle, "config.json"), e.orig, 0o644)
				return nil
			},
			wantErr: "container c1: parsing OCI spec {bundle}/config.json: line 1: unexpected end of JSON input; nothing was changed",
		},
		{
			name: "real runc missing", failMode: config.FailOpen, serve: true,
			setup: func(e *env, w *Wrapper) []string {
				os.Remove(e.runc)
				return nil
			},
			wantErr: "real runc (runc_path) {runc}: no such file or directory; refusing to create container c1",
		},
		{
			name: "real runc not executable", failMode: config.FailOpen, serve: true,
			setup: func(e *env, w *Wrapper) []string {
				os.Chmod(e.runc, 0o644)
				return nil
			},
			wantErr: "real runc (runc_path) {runc}: not an executable file",
		},
		{
			name: "runc_path is confine-runc: a loop", failMode: config.FailOpen, serve: true,
			setup: func(e *env, w *Wrapper) []string {
				w.Executable = func() (string, error) { return e.runc, nil }
				return nil
			},
			wantErr: "real runc (runc_path) {runc} is confine-runc itself: refusing to exec in a loop",
		},
		{
			name: "confine-hook missing, fail closed", failMode: config.FailClosed, serve: true,
			setup: func(e *env, w *Wrapper) []string {
				os.Remove(e.hook)
				return nil
			},
			wantErr: "container c1: confine-hook not found (looked at [{hook}]); refusing to create it unwatched (fail_mode=closed)",
		},
		{
			name: "a flag runc knows and confine-runc does not, fail closed", failMode: config.FailClosed, serve: true,
			setup: func(e *env, w *Wrapper) []string {
				e.runcHelp = "OPTIONS:\n   --frobnicate  a flag of a newer runc\n"
				return e.containerdArgs("create", "--frobnicate", "--bundle", e.bundle, "c1")
			},
			wantErr: `cannot inject a profile: unparseable runc command line: create: unknown flag "--frobnicate"; refusing to create the container (fail_mode=closed)`,
		},
		{
			name: "seccomp generation fails", failMode: config.FailOpen, serve: true,
			setup: func(e *env, w *Wrapper) []string {
				w.Filter = func(*profiles.Profile, string, string) (*specs.LinuxSeccomp, error) {
					return nil, errors.New(`seccomp.allow[3]: unknown syscall "frob"`)
				}
				return nil
			},
			wantErr: `container c1: profile "web": generating its seccomp filter: seccomp.allow[3]: unknown syscall "frob"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.failMode, tt.serve)
			args := e.createArgs()
			w := e.wrapper(args)
			if tt.setup != nil {
				if a := tt.setup(e, w); a != nil {
					args = a
					w.Args = a
				}
			}
			err := w.Run(context.Background())
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("Run = %v, want ErrRefused", err)
			}
			if len(e.calls) != 0 || len(e.overlays) != 0 {
				t.Fatalf("runc was exec'd: %+v, overlays %v", e.calls, e.overlays)
			}
			want := "confine-runc: " + strings.NewReplacer("{run}", e.cfg.RunDir, "{bundle}", e.bundle, "{runc}", e.runc, "{hook}", e.hook).Replace(tt.wantErr)
			if got := e.lastLogError(); !strings.HasPrefix(got, want) {
				t.Errorf("log.json error (what ctr shows) =\n  %s\nwant prefix\n  %s", got, want)
			}
			if !strings.HasPrefix(e.stderr.String(), want) {
				t.Errorf("stderr =\n  %s\nwant prefix\n  %s", e.stderr.String(), want)
			}
			if e.orig != nil {
				e.assertUnchanged()
			} else if _, err := os.Stat(filepath.Join(e.bundle, "config.json")); err == nil {
				t.Error("config.json was created")
			}
		})
	}
}

func TestFailOpen(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(e *env, w *Wrapper) []string
		wantProfile string
		wantMode    string
		wantHooks   bool
		wantLog     string
	}{
		{
			name:        "confined unreachable: profile from profiles_dir by annotation",
			wantProfile: "web", wantMode: "monitor", wantHooks: true,
			wantLog: `confined is not reachable at {run}/api.sock; container default/c1 gets profile \"web\" (annotation) from {profiles} without monitoring (fail_mode=open)`,
		},
		{
			name: "no profiles_dir: the embedded baseline",
			setup: func(e *env, w *Wrapper) []string {
				e.cfg.ProfilesDir = filepath.Join(e.root, "missing")
				return nil
			},
			wantProfile: "baseline", wantMode: "enforce", wantHooks: true,
			wantLog: `gets profile \"baseline\" (embedded baseline: profile \"web\" named by annotation confine.profile does not exist)`,
		},
		{
			name: "confine-hook missing: injected without hooks",
			setup: func(e *env, w *Wrapper) []string {
				os.Remove(e.hook)
				return nil
			},
			wantProfile: "web", wantMode: "monitor", wantHooks: false,
			wantLog: "confine-hook not found",
		},
		{
			name: "a flag runc knows and confine-runc does not: passed through untouched",
			setup: func(e *env, w *Wrapper) []string {
				e.runcHelp = "OPTIONS:\n   --frobnicate value, -f value  a flag of a newer runc\n"
				return e.containerdArgs("create", "--frobnicate", "c1")
			},
			wantLog: `cannot inject a profile: unparseable runc command line: create: unknown flag \"--frobnicate\"; running without one (fail_mode=open)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, config.FailOpen, false)
			args := e.createArgs()
			w := e.wrapper(args)
			if tt.setup != nil {
				if a := tt.setup(e, w); a != nil {
					args, w.Args = a, a
				}
			}
			if err := w.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v\n%s", err, e.logText())
			}
			e.assertExecOriginal(args)
			wantLog := strings.NewReplacer("{run}", e.cfg.RunDir, "{profiles}", e.cfg.ProfilesDir).Replace(tt.wantLog)
			if !strings.Contains(e.logText(), wantLog) {
				t.Errorf("log.json =\n%s\nwant it to contain\n  %s", e.logText(), wantLog)
			}
			if e.lastLogError() != "" {
				t.Errorf("fail-open wrote an error: %s", e.lastLogError())
			}
			if tt.wantProfile == "" {
				e.assertUnchanged()
				return
			}
			s := e.spec()
			if s.Annotations["confine.profile"] != tt.wantProfile || s.Annotations["confine.mode"] != tt.wantMode {
				t.Errorf("annotations = %v, want profile %s mode %s", s.Annotations, tt.wantProfile, tt.wantMode)
			}
			if got := s.Hooks != nil && len(s.Hooks.Poststop) > 0; got != tt.wantHooks {
				t.Errorf("hooks injected = %v, want %v", got, tt.wantHooks)
			}
		})
	}
}

// Help, version and command lines runc refuses by itself reach runc
// untouched, whatever the fail mode and whether confined is up: runc
// prints its own text and exit status, and no container starts.
func TestHelpAndUsageReachRunc(t *testing.T) {
	tests := []struct {
		name string
		cmd  []string
	}{
		{name: "run -h", cmd: []string{"run", "-h"}},
		{name: "create --help", cmd: []string{"create", "--help"}},
		{name: "restore --help", cmd: []string{"restore", "--help"}},
		{name: "help after the id", cmd: []string{"create", "c1", "--help"}},
		{name: "global --help", cmd: []string{"--help", "create", "c1"}},
		{name: "global --version", cmd: []string{"--version", "run", "c1"}},
		{name: "create without id", cmd: []string{"create"}},
		{name: "run with two ids", cmd: []string{"run", "a", "b"}},
		{name: "flag without its value", cmd: []string{"create", "c1", "--bundle"}},
		{name: "bad boolean", cmd: []string{"run", "--detach=maybe", "c1"}},
		{name: "flag no runc knows", cmd: []string{"create", "--frobnicate", "c1"}},
		{name: "id runc refuses", cmd: []string{"create", "../c1"}},
		{name: "bundle without config.json", cmd: []string{"create", "--bundle", "/nonexistent", "c1"}},
	}
	for _, tt := range tests {
		for _, fm := range []string{config.FailClosed, config.FailOpen} {
			t.Run(tt.name+"/"+fm, func(t *testing.T) {
				e := newEnv(t, fm, false)
				e.runcHelp = "OPTIONS:\n   --bundle value, -b value  path to the root of the bundle directory\n"
				args := e.containerdArgs(tt.cmd...)
				if err := e.wrapper(args).Run(context.Background()); err != nil {
					t.Fatalf("Run: %v\n%s", err, e.logText())
				}
				e.assertExecOriginal(args)
				if len(e.overlays) != 0 || e.stderr.Len() != 0 {
					t.Errorf("overlays %v, stderr %q", e.overlays, e.stderr.String())
				}
				e.assertUnchanged()
			})
		}
	}
}

func TestListenerPathOnlyWhenSet(t *testing.T) {
	for _, lp := range []string{"", "/run/confine/seccomp/c1.sock"} {
		t.Run("listener="+lp, func(t *testing.T) {
			e := newEnv(t, config.FailClosed, false)
			w := e.wrapper(e.createArgs())
			w.Decider = deciderFunc(func(ctx context.Context, req api.DecideRequest) (*api.Decision, error) {
				return &api.Decision{Profile: webProfile(), Digest: "sha256:x", ListenerPath: lp}, nil
			})
			if err := w.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := e.spec().Linux.Seccomp.ListenerPath; got != lp {
				t.Errorf("listenerPath = %q, want %q", got, lp)
			}
		})
	}
}

func TestExecFailureIsReported(t *testing.T) {
	e := newEnv(t, config.FailClosed, true)
	w := e.wrapper(e.containerdArgs("start", "c1"))
	w.Exec = func(string, []string, []string) error { return errors.New("exec format error") }
	err := w.Run(context.Background())
	if err == nil || !strings.Contains(e.lastLogError(), "executing the real runc "+e.runc+": exec format error") {
		t.Fatalf("Run = %v, log error %q", err, e.lastLogError())
	}
}

type deciderFunc func(ctx context.Context, req api.DecideRequest) (*api.Decision, error)

func (f deciderFunc) Decide(ctx context.Context, req api.DecideRequest) (*api.Decision, error) {
	return f(ctx, req)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
