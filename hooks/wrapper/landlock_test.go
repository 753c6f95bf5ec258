package wrapper

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/landlock"
	"github.com/confinehq/confine/profiles"
	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func landlockProfile() *profiles.Profile {
	p := webProfile()
	p.Exec.Allow = profiles.List{"/bin/busybox"}
	p.Files.Write = profiles.List{"/tmp/**"}
	return p
}

func TestCreateInjectsLandlock(t *testing.T) {
	tests := []struct {
		name      string
		abi       int
		withInit  bool
		failMode  string
		wantInit  bool
		wantLayer string
		wantErr   bool
	}{
		{name: "landlock and confine-init", abi: 7, withInit: true, failMode: config.FailClosed, wantInit: true, wantLayer: "landlock ABI 7"},
		{name: "no landlock in the kernel", abi: 0, withInit: true, failMode: config.FailClosed, wantLayer: "none: kernel has no landlock"},
		{name: "confine-init missing, closed", abi: 7, failMode: config.FailClosed, wantErr: true},
		{name: "confine-init missing, open", abi: 7, failMode: config.FailOpen, wantLayer: "none: confine-init not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.failMode, true)
			e.backend.SetProfile(landlockProfile())
			w := e.wrapper(e.createArgs())
			self := filepath.Join(e.root, "bin", "confine-runc")
			w.Executable = func() (string, error) { return self, nil }
			if tt.withInit {
				writeFile(t, filepath.Join(e.root, "bin", landlock.InitBinary), []byte("#!/bin/sh\n"), 0o755)
			}
			w.LandlockABI = func() int { return tt.abi }
			err := w.Run(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Run: %v (log %s)", err, e.logText())
			}
			if tt.wantErr {
				e.assertUnchanged()
				return
			}
			s := e.spec()
			_, injected := landlock.Injected(s.Process.Args)
			if injected != tt.wantInit {
				t.Errorf("confine-init injected = %v, args %q", injected, s.Process.Args)
			}
			if got := s.Annotations[AnnotationLandlock]; !strings.HasPrefix(got, tt.wantLayer) {
				t.Errorf("annotation %s = %q, want %q", AnnotationLandlock, got, tt.wantLayer)
			}
		})
	}
}

func TestExecProcessArg(t *testing.T) {
	tests := []struct {
		args   []string
		idx    int
		inline bool
		id     string
	}{
		{[]string{"--process", "/tmp/p.json", "--detach", "--pid-file", "/x/pid", "c1"}, 1, false, "c1"},
		{[]string{"-d", "--process=/tmp/p.json", "--console-socket", "/s", "c1"}, 1, true, "c1"},
		{[]string{"-t", "c1", "sh", "-c", "x"}, -1, false, "c1"},
		{[]string{"--env", "A=B", "--", "c1", "sh"}, -1, false, "c1"},
	}
	for _, tt := range tests {
		idx, inline, id := execProcessArg(tt.args)
		if idx != tt.idx || inline != tt.inline || id != tt.id {
			t.Errorf("execProcessArg(%q) = %d %v %q, want %d %v %q", tt.args, idx, inline, id, tt.idx, tt.inline, tt.id)
		}
	}
}

func TestExecGetsTheRuleset(t *testing.T) {
	e := newEnv(t, config.FailClosed, false)
	rs := (&landlock.Ruleset{RestrictExec: true, Execute: []string{"/bin/busybox"}}).Encode()
	// The container's spec, as confine-runc left it at create: its
	// private copy.
	var s specs.Spec
	if err := json.Unmarshal(e.orig, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Args = append([]string{landlock.InitPath, rs, "--"}, s.Process.Args...)
	b, _ := json.Marshal(s)
	runcRoot := filepath.Join(e.root, "runc-root")
	mustMkdir(t, filepath.Join(runcRoot, "c1"))
	copyDir := hooks.CopyDir(e.cfg.RunDir, runcRoot, "c1")
	mustMkdir(t, copyDir)
	writeFile(t, filepath.Join(copyDir, "config.json"), b, 0o600)
	writeFile(t, filepath.Join(runcRoot, "c1", "state.json"), []byte(`{"id":"c1","config":{"labels":["bundle=`+e.bundle+`"]}}`), 0o600)
	procDir := t.TempDir()
	proc := filepath.Join(procDir, "process.json")
	writeFile(t, proc, []byte(`{"args":["sh","-c","id"],"cwd":"/","unknownField":42}`), 0o600)

	argv := []string{"/usr/bin/confine-runc", "--root", runcRoot, "--log", "/dev/null", "exec", "--process", proc, "--detach", "c1"}
	w := e.wrapper(argv)
	if err := w.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v: %s", err, e.stderr.String())
	}
	if len(e.calls) != 1 {
		t.Fatalf("runc exec'd %d times", len(e.calls))
	}
	got := e.calls[0].argv
	want := append([]string(nil), argv...)
	want[7] = proc + ".confine"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("argv (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(proc + ".confine")
	if err != nil {
		t.Fatal(err)
	}
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{landlock.InitPath, rs, "--", "sh", "-c", "id"}, p.Args); diff != "" {
		t.Errorf("process args (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(data), `"unknownField":42`) {
		t.Errorf("unknown field lost: %s", data)
	}
	orig, _ := os.ReadFile(proc)
	if strings.Contains(string(orig), landlock.InitPath) {
		t.Error("the original process file was edited")
	}

	// A container without confine-init (no copy; the bundle's spec has
	// none): exec passes through unchanged.
	e.calls = nil
	if err := os.RemoveAll(copyDir); err != nil {
		t.Fatal(err)
	}
	if err := e.wrapper(argv).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(argv, e.calls[0].argv); diff != "" {
		t.Errorf("argv changed for an unconfined container:\n%s", diff)
	}
}
