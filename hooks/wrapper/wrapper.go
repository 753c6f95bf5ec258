// Package wrapper is confine-runc: an OCI runtime with runc's command line
// that, on create and run, asks confined which profile the container gets,
// injects it into the bundle's config.json, and then execs the real runc
// with the original arguments. Every other command is handed to runc at
// once. The process is replaced (syscall.Exec), never forked: signals,
// stdio and the exit status stay runc's.
package wrapper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/profiles"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Name prefixes every message confine-runc writes.
const Name = "confine-runc"

// DefaultHookPath is where packages install confine-hook.
const DefaultHookPath = "/usr/bin/confine-hook"

// HookBinary is confine-hook's file name, looked for next to confine-runc.
const HookBinary = "confine-hook"

// ErrRefused means confine-runc refused to create the container; the
// reason has been logged in runc's format.
var ErrRefused = errors.New("container creation refused")

// Decider asks confined for a decision (api.Client implements it).
type Decider interface {
	Decide(ctx context.Context, req api.DecideRequest) (*api.Decision, error)
}

// LocalProfileFunc resolves a profile without confined (fail_mode open).
// It returns the profile and how it was selected.
type LocalProfileFunc func(cfg *config.Config, req api.DecideRequest) (*profiles.Profile, string, error)

// FilterFunc returns the seccomp filter for a decided profile on goarch,
// given confined's listener socket ("" when none); nil keeps the spec's
// filter. Filter is the real one.
type FilterFunc func(p *profiles.Profile, goarch, listenerPath string) (*specs.LinuxSeccomp, error)

// Wrapper is one run of confine-runc. Zero fields get the real thing from
// New; tests replace them.
type Wrapper struct {
	// Args is os.Args: the program name, then runc's command line.
	Args []string
	// Config is the loaded configuration; ConfigErr the reason it could
	// not be loaded (Config is then nil).
	Config    *config.Config
	ConfigErr error

	Env        []string
	Stderr     io.Writer
	Getwd      func() (string, error)
	Executable func() (string, error)
	// Exec replaces the process (syscall.Exec). It returns only on failure.
	Exec func(path string, argv, env []string) error
	// Decider reaches confined; built from Config when nil.
	Decider Decider
	// LocalProfile is the fail-open resolution (LocalProfile by default).
	LocalProfile LocalProfileFunc
	// Filter generates the seccomp filter (Filter by default).
	Filter FilterFunc
	// GOARCH is the architecture filters are generated for.
	GOARCH string
}

// New returns a wrapper for this process.
func New(args []string, cfg *config.Config, cfgErr error) *Wrapper {
	w := &Wrapper{
		Args:         args,
		Config:       cfg,
		ConfigErr:    cfgErr,
		Env:          os.Environ(),
		Stderr:       os.Stderr,
		Getwd:        os.Getwd,
		Executable:   os.Executable,
		Exec:         syscall.Exec,
		LocalProfile: LocalProfile,
		Filter:       Filter,
		GOARCH:       runtime.GOARCH,
	}
	if cfg != nil {
		w.Decider = api.NewClient(cfg.APISocket(), DecideTimeout)
	}
	return w
}

// Run does the work and, on success, does not return (the process becomes
// runc). With a test Exec that returns nil, Run returns nil. Every error
// returned has already been logged in runc's format; the caller exits 1.
func (w *Wrapper) Run(ctx context.Context) error {
	var argv []string
	if len(w.Args) > 1 {
		argv = w.Args[1:]
	}
	inv, perr := hooks.ParseArgs(argv)
	log := hooks.NewRuncLog(inv, Name, w.Stderr)

	if !inv.Creates() {
		// The fast path: nothing but the configuration was loaded.
		runc := config.Default().RuncPath
		if w.Config != nil {
			runc = w.Config.RuncPath
		} else {
			log.Warnf("%v; passing %q through to %s", w.ConfigErr, inv.Command, runc)
		}
		return w.execRunc(log, runc, argv)
	}

	if w.Config == nil {
		log.Errorf("%v; refusing to %s container %s", w.ConfigErr, inv.Command, idOrUnknown(inv.ID))
		return ErrRefused
	}
	cfg := w.Config
	if err := w.checkRunc(cfg.RuncPath); err != nil {
		log.Errorf("%v; refusing to %s container %s", err, inv.Command, idOrUnknown(inv.ID))
		return ErrRefused
	}
	if perr != nil {
		if cfg.FailMode == config.FailOpen {
			log.Warnf("cannot inject a profile: %v; running without one (fail_mode=open)", perr)
			return w.execRunc(log, cfg.RuncPath, argv)
		}
		log.Errorf("cannot inject a profile: %v; refusing to %s the container (fail_mode=closed)", perr, inv.Command)
		return ErrRefused
	}
	if err := w.inject(ctx, log, inv); err != nil {
		log.Errorf("%v", err)
		return ErrRefused
	}
	return w.execRunc(log, cfg.RuncPath, argv)
}

func idOrUnknown(id string) string {
	if id == "" {
		return "(no id)"
	}
	return id
}

// inject decides and edits the bundle. On error config.json is unchanged.
func (w *Wrapper) inject(ctx context.Context, log *hooks.RuncLog, inv hooks.Invocation) error {
	cfg := w.Config
	cwd, err := w.Getwd()
	if err != nil {
		return fmt.Errorf("container %s: finding the bundle: working directory: %v", inv.ID, err)
	}
	bundle := inv.BundleDir(cwd)
	sf, err := hooks.ReadBundleSpec(bundle)
	if err != nil {
		return fmt.Errorf("container %s: %v; nothing was changed", inv.ID, err)
	}
	ns, _ := hooks.Namespace(bundle, inv.ID, inv.Root)
	req := api.DecideRequest{Namespace: ns, ID: inv.ID, Bundle: bundle, Annotations: sf.Spec.Annotations}

	var (
		prof     *profiles.Profile
		digest   string
		listener string
		reason   string
		decision = "confined"
	)
	dec, err := w.Decider.Decide(ctx, req)
	switch {
	case err == nil:
		prof, digest, listener, reason = dec.Profile, dec.Digest, dec.ListenerPath, dec.Reason
	case errors.Is(err, api.ErrUnreachable) && cfg.FailMode == config.FailOpen:
		p, why, lerr := w.LocalProfile(cfg, req)
		if lerr != nil {
			return fmt.Errorf("confined is not reachable at %s and no local profile could be resolved for container %s: %v", cfg.APISocket(), inv.ID, lerr)
		}
		prof, digest, reason, decision = p, profiles.Digest(p), "resolved locally: "+why, "local"
		log.Warnf("confined is not reachable at %s; container %s/%s gets profile %q (%s) from %s without monitoring (fail_mode=open)", cfg.APISocket(), ns, inv.ID, p.Name, why, cfg.ProfilesDir)
	case errors.Is(err, api.ErrUnreachable):
		return fmt.Errorf("confined is not reachable at %s; refusing to create container %s (fail_mode=closed)", cfg.APISocket(), inv.ID)
	default:
		return fmt.Errorf("refusing to create container %s/%s: %v", ns, inv.ID, err)
	}

	in := hooks.Injection{Profile: prof, Digest: digest, ListenerPath: listener, Decision: decision}
	f, err := w.Filter(prof, w.GOARCH, listener)
	if err != nil {
		return fmt.Errorf("container %s: profile %q: generating its seccomp filter: %v", inv.ID, prof.Name, err)
	}
	in.Seccomp = f
	hook, err := w.hookPath()
	switch {
	case err == nil:
		in.HookPath = hook
		if cfg.Path != "" {
			in.HookEnv = []string{config.EnvPath + "=" + cfg.Path}
		}
	case cfg.FailMode == config.FailOpen:
		log.Warnf("container %s: %v; injecting no hooks, confined will learn of the container from containerd events (fail_mode=%s)", inv.ID, err, cfg.FailMode)
	default:
		return fmt.Errorf("container %s: %v; refusing to create it unwatched (fail_mode=closed)", inv.ID, err)
	}
	mods, err := in.Modifiers()
	if err != nil {
		return fmt.Errorf("container %s: %v", inv.ID, err)
	}
	if _, err := sf.Edit(mods); err != nil {
		return fmt.Errorf("container %s: %v; nothing was changed", inv.ID, err)
	}
	log.Infof("container %s/%s: profile %q (mode %s, %s, %s) injected into %s", ns, inv.ID, prof.Name, prof.Mode, digest, reason, sf.Path)
	return nil
}

// checkRunc makes sure the real runc exists, is executable and is not
// confine-runc itself (which would exec itself forever).
func (w *Wrapper) checkRunc(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("real runc (runc_path) %s: %v", path, unwrapPath(err))
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("real runc (runc_path) %s: not an executable file", path)
	}
	if self, err := w.Executable(); err == nil {
		if me, err := os.Stat(self); err == nil && os.SameFile(me, st) {
			return fmt.Errorf("real runc (runc_path) %s is confine-runc itself: refusing to exec in a loop", path)
		}
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// execRunc replaces the process with runc and the original arguments.
func (w *Wrapper) execRunc(log *hooks.RuncLog, path string, argv []string) error {
	if err := w.checkRunc(path); err != nil {
		log.Errorf("%v", err)
		return err
	}
	full := append([]string{path}, argv...)
	if err := w.Exec(path, full, w.Env); err != nil {
		err = fmt.Errorf("executing the real runc %s: %w", path, err)
		log.Errorf("%v", err)
		return err
	}
	return nil
}

// hookPath finds confine-hook: hook_path, else next to this binary, else
// DefaultHookPath. The file must exist and be executable.
func (w *Wrapper) hookPath() (string, error) {
	var cands []string
	if w.Config.HookPath != "" {
		cands = []string{w.Config.HookPath}
	} else {
		if self, err := w.Executable(); err == nil {
			if r, err := filepath.EvalSymlinks(self); err == nil {
				self = r
			}
			cands = append(cands, filepath.Join(filepath.Dir(self), HookBinary))
		}
		cands = append(cands, DefaultHookPath)
	}
	for _, c := range cands {
		if !filepath.IsAbs(c) {
			continue
		}
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("confine-hook not found (looked at %v)", cands)
}
