package front

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/api/wire"
	"github.com/confinehq/confine/internal/config"
)

type execCall struct {
	path string
	argv []string
}

type env struct {
	dir, runc, self, full, bundle string
	execs                         []execCall
	overlays                      [][3]string
	prepares                      []wire.PrepareRequest
}

func newEnv(t *testing.T, withFull bool) *env {
	dir := t.TempDir()
	e := &env{dir: dir, runc: filepath.Join(dir, "runc"), self: filepath.Join(dir, "confine-runc"), full: filepath.Join(dir, FullBinary), bundle: filepath.Join(dir, "bundle")}
	exes := []string{e.runc, e.self}
	if withFull {
		exes = append(exes, e.full)
	}
	for _, p := range exes {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) front(cfg *config.Config, argv []string, answer *wire.PrepareAnswer, prepErr error) *Front {
	f := New(append([]string{"runc"}, argv...), cfg, nil)
	f.Env = []string{"A=1"}
	f.Stderr = &strings.Builder{}
	f.Getwd = func() (string, error) { return e.bundle, nil }
	f.Executable = func() (string, error) { return e.self, nil }
	f.Exec = func(path string, argv, _ []string) error {
		e.execs = append(e.execs, execCall{path, argv})
		return nil
	}
	f.Prepare = func(_ context.Context, req wire.PrepareRequest) (*wire.PrepareAnswer, error) {
		e.prepares = append(e.prepares, req)
		return answer, prepErr
	}
	f.Overlay = func(copy, target, placeholder string) error {
		e.overlays = append(e.overlays, [3]string{copy, target, placeholder})
		return nil
	}
	return f
}

func TestFront(t *testing.T) {
	create := []string{"--root", "/run/containerd/runc/default", "create", "--bundle", "{bundle}", "c1"}
	tests := []struct {
		name      string
		argv      []string
		answer    *wire.PrepareAnswer
		prepErr   error
		noFull    bool
		failMode  string
		wantExec  string // "runc", "full" or "" (refused)
		wantMount bool
		wantAsk   bool
	}{
		{name: "start goes straight to runc", argv: []string{"start", "c1"}, wantExec: "runc"},
		{name: "delete goes straight to runc", argv: []string{"delete", "--force", "c1"}, wantExec: "runc"},
		{name: "exec goes to the full wrapper (confine-init)", argv: []string{"exec", "c1", "sh"}, wantExec: "full"},
		{name: "usage error goes to the full wrapper", argv: []string{"create", "--bundle"}, wantExec: "full"},
		{name: "create prepared by confined", argv: create, answer: &wire.PrepareAnswer{Outcome: wire.OutcomePrepared, Copy: "/run/confine/runc/x/c1/config.json", Target: "/b/config.json", Logs: []wire.LogEntry{{Level: "info", Msg: "injected"}}}, wantExec: "runc", wantMount: true, wantAsk: true},
		{name: "create prepared, with a mount of the bundle's config.json", argv: create, answer: &wire.PrepareAnswer{Outcome: wire.OutcomePrepared, Copy: "/run/confine/runc/x/c1/config.json", Target: "/b/config.json", Placeholder: "/run/confine/runc/x/c1/bundle-config.json"}, wantExec: "runc", wantMount: true, wantAsk: true},
		{name: "create refused by confined", argv: create, answer: &wire.PrepareAnswer{Outcome: wire.OutcomeRefused, Error: "no"}, wantAsk: true},
		{name: "runc refuses the command line itself", argv: create, answer: &wire.PrepareAnswer{Outcome: wire.OutcomePassThrough}, wantExec: "runc", wantAsk: true},
		{name: "confined answers fallback", argv: create, answer: &wire.PrepareAnswer{Outcome: wire.OutcomeFallback}, wantExec: "full", wantAsk: true},
		{name: "confined unreachable: the full wrapper applies fail_mode", argv: create, prepErr: fmt.Errorf("%w: no socket", wire.ErrUnreachable), wantExec: "full", wantAsk: true},
		{name: "no full wrapper, fail_mode closed: refused", argv: create, prepErr: wire.ErrUnreachable, noFull: true, wantAsk: true},
		{name: "no full wrapper, fail_mode open: runc untouched", argv: create, prepErr: wire.ErrUnreachable, noFull: true, failMode: config.FailOpen, wantExec: "runc", wantAsk: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, !tt.noFull)
			cfg := config.Default()
			cfg.RuncPath, cfg.RunDir, cfg.Path = e.runc, filepath.Join(e.dir, "run"), filepath.Join(e.dir, "confine.toml")
			if tt.failMode != "" {
				cfg.FailMode = tt.failMode
			}
			argv := make([]string, len(tt.argv))
			for i, a := range tt.argv {
				argv[i] = strings.ReplaceAll(a, "{bundle}", e.bundle)
			}
			err := e.front(cfg, argv, tt.answer, tt.prepErr).Run(context.Background())
			switch tt.wantExec {
			case "":
				if !errors.Is(err, ErrRefused) || len(e.execs) != 0 {
					t.Fatalf("want a refusal and no exec, got %v, execs %v", err, e.execs)
				}
			case "runc", "full":
				want := e.runc
				if tt.wantExec == "full" {
					want = e.full
				}
				if err != nil || len(e.execs) != 1 || e.execs[0].path != want {
					t.Fatalf("want one exec of %s, got %v, execs %v", want, err, e.execs)
				}
				if wantArgv := append([]string{"runc"}, argv...); !reflect.DeepEqual(e.execs[0].argv, wantArgv) {
					t.Errorf("argv %q, want %q", e.execs[0].argv, wantArgv)
				}
			}
			if got := len(e.overlays) == 1; got != tt.wantMount {
				t.Errorf("mounted %v, want %v", e.overlays, tt.wantMount)
			}
			if tt.wantMount && e.overlays[0] != [3]string{tt.answer.Copy, tt.answer.Target, tt.answer.Placeholder} {
				t.Errorf("mounted %v", e.overlays[0])
			}
			if got := len(e.prepares) == 1; got != tt.wantAsk {
				t.Fatalf("asked confined %v, want %v", e.prepares, tt.wantAsk)
			}
			if tt.wantAsk {
				want := wire.PrepareRequest{Argv: argv, Cwd: e.bundle, Executable: e.self, ConfigPath: cfg.Path}
				if !reflect.DeepEqual(e.prepares[0], want) {
					t.Errorf("request %+v, want %+v", e.prepares[0], want)
				}
			}
		})
	}
}

func TestFrontRefusesALoop(t *testing.T) {
	e := newEnv(t, true)
	cfg := config.Default()
	cfg.RuncPath, cfg.RunDir = e.self, filepath.Join(e.dir, "run")
	for _, argv := range [][]string{{"create", "--bundle", e.bundle, "c1"}, {"exec", "c1", "sh"}, {"start", "c1"}} {
		if err := e.front(cfg, argv, nil, wire.ErrUnreachable).Run(context.Background()); err == nil || len(e.execs) != 0 {
			t.Fatalf("%v: runc_path = confine-runc: want an error and no exec, got %v, %v", argv, err, e.execs)
		}
	}
}
