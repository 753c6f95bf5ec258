// Package front is confine-runc: the OCI runtime wrapper that containerd's
// shim runs for every runc command. It is lean on purpose (see
// bench/RESULTS.md, "Container start, stage by stage"): each runc command
// of a container's life pays its start-up, so it links only the
// configuration, runc's command line (hooks/runcargs) and the small API
// client (internal/api/wire).
//
//   - create, run, restore: confined prepares the private copy of
//     config.json (POST /v1/prepare: decision, filter, spec edits; see
//     hooks/wrapper.Prepare); front mounts it over the bundle's config.json
//     in a mount namespace of its own and execs runc there.
//   - every other command: exec runc at once.
//   - anything else — confined unreachable (fail_mode applies), a command
//     line the parser refuses, `runc exec` (its process may get
//     confine-init), no configuration — is handed to confine-runc-full,
//     the complete wrapper (hooks/wrapper), next to this binary: the
//     result is the same as before, one exec later.
//
// The process is replaced (syscall.Exec), never forked.
package front

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/confinehq/confine/hooks/runcargs"
	"github.com/confinehq/confine/internal/api/wire"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/starttrace"
)

// Name prefixes every message (runcargs.Name).
const Name = runcargs.Name

// FullBinary is the complete wrapper's file name, next to confine-runc.
const FullBinary = "confine-runc-full"

// LogFile, under run_dir, receives messages when runc is given no --log
// (runcargs.LogFile, the same file as hooks/wrapper's).
const LogFile = runcargs.LogFile

// PrepareTimeout bounds the question to confined. Past it, the full
// wrapper asks again and applies fail_mode.
const PrepareTimeout = 5 * time.Second

// ErrRefused means the container was refused; the reason has been logged.
var ErrRefused = errors.New("container creation refused")

// Front is one run of confine-runc. New fills every field; tests replace
// them.
type Front struct {
	// Args is os.Args.
	Args      []string
	Config    *config.Config
	ConfigErr error
	Env       []string
	Stderr    io.Writer
	Getwd     func() (string, error)
	// Executable returns this binary's path.
	Executable func() (string, error)
	// Exec replaces the process; it returns only on failure.
	Exec func(path string, argv, env []string) error
	// Prepare asks confined (wire.Client.Prepare).
	Prepare func(ctx context.Context, req wire.PrepareRequest) (*wire.PrepareAnswer, error)
	// Overlay mounts the copy over config.json for runc.
	Overlay runcargs.OverlayFunc
	Trace   *starttrace.Trace
}

// New returns the front for this process.
func New(args []string, cfg *config.Config, cfgErr error) *Front {
	f := &Front{
		Args: args, Config: cfg, ConfigErr: cfgErr,
		Env: os.Environ(), Stderr: os.Stderr, Getwd: os.Getwd, Executable: os.Executable,
		Exec: syscall.Exec, Overlay: runcargs.Overlay,
	}
	if cfg != nil {
		f.Prepare = wire.Client{Socket: cfg.APISocket(), Timeout: PrepareTimeout}.Prepare
	}
	return f
}

// Run does the work; on success it does not return (the process became
// runc or confine-runc-full). Errors have been logged; the caller exits 1.
func (f *Front) Run(ctx context.Context) error {
	cfg := f.Config
	runDir := ""
	if cfg != nil {
		runDir = cfg.RunDir
	}
	b := runcargs.Start(f.Args, Name, f.Stderr, runDir, f.Trace)
	argv, inv, log := b.Argv, b.Inv, b.Log
	if cfg == nil || b.ParseErr != nil || inv.Command == "exec" {
		return f.full(log)
	}
	if !inv.Injects() {
		return f.execRunc(log, argv)
	}
	if err := runcargs.CheckRunc(cfg.RuncPath, f.Executable); err != nil {
		log.Errorf("%v; refusing to %s container %s", err, inv.Command, idOrUnknown(inv.ID))
		return ErrRefused
	}
	cwd, err := f.Getwd()
	if err != nil {
		return f.full(log)
	}
	self, err := f.Executable()
	if err != nil {
		return f.full(log)
	}
	a, err := f.Prepare(ctx, wire.PrepareRequest{Argv: argv, Cwd: cwd, Executable: self, ConfigPath: cfg.Path})
	f.Trace.Mark("prepare round trip")
	if err != nil {
		// Unreachable, or an older confined: the full wrapper decides
		// again and applies fail_mode.
		return f.full(log)
	}
	for _, e := range a.Logs {
		switch e.Level {
		case runcargs.LevelError:
			log.Errorf("%s", e.Msg)
		case runcargs.LevelWarn:
			log.Warnf("%s", e.Msg)
		default:
			log.Infof("%s", e.Msg)
		}
	}
	switch a.Outcome {
	case wire.OutcomePassThrough:
		return f.execRunc(log, argv)
	case wire.OutcomeRefused:
		log.Errorf("%s", a.Error)
		return ErrRefused
	case wire.OutcomePrepared:
	default:
		return f.full(log)
	}
	err = f.Overlay(a.Copy, a.Target, a.Placeholder)
	f.Trace.Mark("private mount namespace, bind mount")
	if err != nil {
		if cfg.FailMode == config.FailOpen {
			log.Warnf("container %s: %v; running it without its profile (fail_mode=open)", inv.ID, err)
			return f.execRunc(log, argv)
		}
		log.Errorf("container %s: %v; refusing to %s it (fail_mode=closed)", inv.ID, err, inv.Command)
		return ErrRefused
	}
	return f.execRunc(log, argv)
}

// execRunc replaces the process with the real runc and the original
// arguments; runc gets confine-runc's argv[0] (see hooks/wrapper).
func (f *Front) execRunc(log *runcargs.RuncLog, argv []string) error {
	path := f.Config.RuncPath
	if err := runcargs.CheckRunc(path, f.Executable); err != nil {
		log.Errorf("%v", err)
		return err
	}
	arg0 := path
	if len(f.Args) > 0 && f.Args[0] != "" {
		arg0 = f.Args[0]
	}
	f.Trace.Mark("check runc")
	if f.Config != nil {
		f.Trace.Write(f.Config.RunDir)
	}
	if err := f.Exec(path, append([]string{arg0}, argv...), f.Env); err != nil {
		err = fmt.Errorf("executing the real runc %s: %w", path, err)
		log.Errorf("%v", err)
		return err
	}
	return nil
}

// full hands the whole command line to confine-runc-full, found next to
// this binary (symlinks resolved).
func (f *Front) full(log *runcargs.RuncLog) error {
	if f.Config != nil {
		// runc_path must not lead back here (the full wrapper checks
		// against its own binary only).
		if err := runcargs.CheckRunc(f.Config.RuncPath, f.Executable); err != nil {
			log.Errorf("%v", err)
			return err
		}
	}
	path, err := f.fullPath()
	if err != nil {
		if f.Config != nil && f.Config.FailMode == config.FailOpen {
			log.Warnf("%v; passing the command to runc untouched (fail_mode=open)", err)
			var argv []string
			if len(f.Args) > 1 {
				argv = f.Args[1:]
			}
			return f.execRunc(log, argv)
		}
		log.Errorf("%v; refusing the command (fail_mode=closed)", err)
		return ErrRefused
	}
	if err := f.Exec(path, f.Args, f.Env); err != nil {
		err = fmt.Errorf("executing %s: %w", path, err)
		log.Errorf("%v", err)
		return err
	}
	return nil
}

func (f *Front) fullPath() (string, error) {
	self, err := f.Executable()
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", FullBinary, err)
	}
	if r, err := filepath.EvalSymlinks(self); err == nil {
		self = r
	}
	p := filepath.Join(filepath.Dir(self), FullBinary)
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s not found next to %s", FullBinary, self)
	}
	return p, nil
}

func idOrUnknown(id string) string {
	if id == "" {
		return "(no id)"
	}
	return id
}
