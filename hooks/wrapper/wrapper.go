// Package wrapper is confine-runc: an OCI runtime with runc's command line
// that, on create, run and restore, asks confined which profile the
// container gets, renders the bundle's config.json with it into a private
// copy under run_dir, and then execs the real runc with the original
// arguments in a mount namespace of its own where that copy is mounted
// over the bundle's config.json (see Overlay): the user's bundle is never
// written. Every other command, help and usage errors are handed to runc
// at once. The process is replaced (syscall.Exec), never forked: signals,
// stdio and the exit status stay runc's, and confine-runc never writes to
// stdout, nor to stderr except to say why it refused a container.
package wrapper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/confinehq/confine/hooks"
	"github.com/confinehq/confine/hooks/runcargs"
	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/landlock/fromprofile"
	"github.com/confinehq/confine/internal/starttrace"
	"github.com/confinehq/confine/profiles"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Name prefixes every message confine-runc writes (runcargs.Name).
const Name = runcargs.Name

// DefaultHookPath is where packages install confine-hook.
const DefaultHookPath = "/usr/bin/confine-hook"

// HookBinary is confine-hook's file name, looked for next to confine-runc.
const HookBinary = "confine-hook"

// LogFile, under run_dir, receives confine-runc's messages when runc is
// given no --log (runcargs.LogFile).
const LogFile = runcargs.LogFile

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
	// Overlay puts the private copy over the bundle's config.json for
	// runc (Overlay by default).
	Overlay runcargs.OverlayFunc
	// RuncHelp returns `runc CMD --help`'s output, to learn whether runc
	// knows a flag this parser does not (RuncHelp by default).
	RuncHelp func(runc, cmd string) ([]byte, error)
	// Now is the clock.
	Now func() time.Time
	// LandlockABI reports the kernel's Landlock ABI (landlock.ABI when nil).
	LandlockABI func() int
	// Trace times the stages of a create (nil: not traced).
	Trace *starttrace.Trace

	runDir string
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
		Overlay:      runcargs.Overlay,
		RuncHelp:     RuncHelp,
		Now:          time.Now,
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
	runc, runDir := config.Default().RuncPath, config.Default().RunDir
	if w.Config != nil {
		runc, runDir = w.Config.RuncPath, w.Config.RunDir
	}
	w.runDir = runDir
	b := runcargs.Start(w.Args, Name+"-full", w.Stderr, runDir, w.Trace)
	argv, inv, perr, log := b.Argv, b.Inv, b.ParseErr, b.Log

	if !inv.Injects() {
		// The fast path: nothing but the configuration was loaded. Help
		// and version flags start nothing: runc prints its own text.
		if w.Config == nil {
			log.Warnf("%v; passing %q through to %s", w.ConfigErr, inv.Command, runc)
		}
		if inv.Command == "exec" {
			a, err := w.execArgs(inv, argv)
			if err != nil {
				log.Errorf("%v", err)
				return ErrRefused
			}
			argv = a
		}
		return w.execRunc(log, runc, argv)
	}
	if perr != nil && w.runcRefuses(runc, inv) {
		// A usage error runc refuses too: it prints its own usage text
		// and exit status, and starts nothing.
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
	w.Trace.Mark("check runc")
	if perr != nil {
		if cfg.FailMode == config.FailOpen {
			log.Warnf("cannot inject a profile: %v; running without one (fail_mode=open)", perr)
			return w.execRunc(log, cfg.RuncPath, argv)
		}
		log.Errorf("cannot inject a profile: %v; refusing to %s the container (fail_mode=closed)", perr, inv.Command)
		return ErrRefused
	}
	cp, err := w.inject(ctx, log, inv)
	switch {
	case errors.Is(err, errRuncRefuses):
		return w.execRunc(log, cfg.RuncPath, argv)
	case err != nil:
		log.Errorf("%v", err)
		return ErrRefused
	}
	err = w.Overlay(cp.Copy, cp.Target, cp.Placeholder)
	w.Trace.Mark("private mount namespace, bind mount")
	if err != nil {
		if cfg.FailMode == config.FailOpen {
			log.Warnf("container %s: %v; running it without its profile (fail_mode=open)", inv.ID, err)
			return w.execRunc(log, cfg.RuncPath, argv)
		}
		log.Errorf("container %s: %v; refusing to %s it (fail_mode=closed)", inv.ID, err, inv.Command)
		return ErrRefused
	}
	return w.execRunc(log, cfg.RuncPath, argv)
}

// errRuncRefuses marks a command line runc refuses by itself (a bundle
// without config.json, an id runc does not accept): runc gets it untouched
// and says so in its own words; nothing can start.
var errRuncRefuses = errors.New("runc refuses this command line itself")

// runcRefuses reports whether runc refuses a command line this parser
// could not parse: a wrong number of arguments, a flag without its value or
// with a bad boolean always; an unknown flag only when runc's own help for
// the command does not list it (a newer runc's flag must not slip a
// container past the injection).
func (w *Wrapper) runcRefuses(runc string, inv runcargs.Invocation) bool {
	if inv.UnknownFlag == "" {
		return true
	}
	out, err := w.RuncHelp(runc, inv.Command)
	if err != nil {
		return false
	}
	return !helpListsFlag(string(out), inv.UnknownFlag)
}

// helpListsFlag finds "-name" or "--name" as a flag in urfave/cli's help
// text ("--bundle value, -b value  path to ...").
func helpListsFlag(help, name string) bool {
	if name == "" {
		return false
	}
	for _, f := range strings.FieldsFunc(help, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' || r == '=' }) {
		if f == "-"+name || f == "--"+name {
			return true
		}
	}
	return false
}

// RuncHelp runs `runc CMD --help` and returns its output.
func RuncHelp(runc, cmd string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, runc, cmd, "--help").Output()
}

func idOrUnknown(id string) string {
	if id == "" {
		return "(no id)"
	}
	return id
}

// privateCopy is what inject made: the edited spec, the file runc opens
// that it is to be mounted over, and the placeholder that file is bound
// onto first ("" when no mount names it: hooks.ConfigMounts).
type privateCopy struct {
	Copy        string
	Target      string
	Placeholder string
}

// inject decides and renders the edited spec into a private copy. The
// bundle is never written.
func (w *Wrapper) inject(ctx context.Context, log *runcargs.RuncLog, inv runcargs.Invocation) (privateCopy, error) {
	cfg := w.Config
	cwd, err := w.Getwd()
	if err != nil {
		return privateCopy{}, fmt.Errorf("container %s: finding the bundle: working directory: %v", inv.ID, err)
	}
	if !hooks.ValidID(inv.ID) {
		return privateCopy{}, errRuncRefuses
	}
	bundle := inv.BundleDir(cwd)
	sf, err := hooks.ReadBundleSpec(bundle)
	w.Trace.Mark("read config.json")
	if errors.Is(err, hooks.ErrNoSpec) {
		return privateCopy{}, errRuncRefuses
	}
	if err != nil {
		return privateCopy{}, fmt.Errorf("container %s: %v; nothing was changed", inv.ID, err)
	}
	target, err := filepath.EvalSymlinks(sf.Path)
	if err != nil {
		return privateCopy{}, fmt.Errorf("container %s: resolving %s: %v", inv.ID, sf.Path, err)
	}
	root := hooks.RuncRoot(inv.Root, cwd)
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
	w.Trace.Mark("decide round trip")
	switch {
	case err == nil:
		prof, digest, listener, reason = dec.Profile, dec.Digest, dec.ListenerPath, dec.Reason
	case errors.Is(err, api.ErrUnreachable) && cfg.FailMode == config.FailOpen:
		p, why, lerr := w.LocalProfile(cfg, req)
		if lerr != nil {
			return privateCopy{}, fmt.Errorf("confined is not reachable at %s and no local profile could be resolved for container %s: %v", cfg.APISocket(), inv.ID, lerr)
		}
		prof, digest, reason, decision = p, profiles.Digest(p), "resolved locally: "+why, "local"
		log.Warnf("confined is not reachable at %s; container %s/%s gets profile %q (%s) from %s without monitoring (fail_mode=open)", cfg.APISocket(), ns, inv.ID, p.Name, why, cfg.ProfilesDir)
	case errors.Is(err, api.ErrUnreachable):
		return privateCopy{}, fmt.Errorf("confined is not reachable at %s; refusing to %s container %s (fail_mode=closed)", cfg.APISocket(), inv.Command, inv.ID)
	default:
		return privateCopy{}, fmt.Errorf("refusing to %s container %s/%s: %v", inv.Command, ns, inv.ID, err)
	}

	in := hooks.Injection{Profile: prof, Digest: digest, ListenerPath: listener, Decision: decision, RuncRoot: root}
	f, err := w.Filter(prof, w.GOARCH, listener)
	if err != nil {
		return privateCopy{}, fmt.Errorf("container %s: profile %q: generating its seccomp filter: %v", inv.ID, prof.Name, err)
	}
	in.Seccomp = f
	w.Trace.Mark("seccomp filter generation")
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
		return privateCopy{}, fmt.Errorf("container %s: %v; refusing to create it unwatched (fail_mode=closed)", inv.ID, err)
	}
	initPath, layer, err := w.landlockLayer(log, inv.ID, fromprofile.NeedsInit(prof))
	if err != nil {
		return privateCopy{}, err
	}
	in.InitPath = initPath
	w.Trace.Mark("hook and confine-init lookup, landlock ABI")
	mods, err := in.Modifiers()
	if err != nil {
		return privateCopy{}, fmt.Errorf("container %s: %v", inv.ID, err)
	}
	switch {
	case layer != "":
		mods = append(mods, hooks.Annotations{AnnotationLandlock: layer, AnnotationExecSessions: prof.EffectiveExecSessions()})
	case prof.Mode == profiles.ModeEnforce && prof.Privileges.Capabilities != nil:
		// runc exec processes get the container's capabilities.
		mods = append(mods, hooks.Annotations{AnnotationExecSessions: prof.EffectiveExecSessions()})
	}
	// Mounts of the bundle's own config.json: first, on the spec as the
	// user wrote it.
	cm := &hooks.ConfigMounts{Bundle: bundle, Config: target, Placeholder: filepath.Join(hooks.CopyDir(cfg.RunDir, root, inv.ID), hooks.BundleConfigFile)}
	mods = append(hooks.Modifiers{cm}, mods...)
	if err := mods.Modify(sf.Spec); err != nil {
		return privateCopy{}, fmt.Errorf("container %s: editing %s: %v; nothing was changed", inv.ID, sf.Path, err)
	}
	out, err := sf.Render()
	if err != nil {
		return privateCopy{}, fmt.Errorf("container %s: %v; nothing was changed", inv.ID, err)
	}
	w.Trace.Mark("spec modifiers, render")
	hooks.PruneCopies(cfg.RunDir, w.Now())
	w.Trace.Mark("prune old copies")
	o := hooks.Origin{Bundle: bundle, Config: target, Root: root, ID: inv.ID, Namespace: ns, Command: inv.Command}
	if cm.Redirected() {
		o.Placeholder = cm.Placeholder
	}
	cp, err := hooks.WriteCopy(cfg.RunDir, o, out)
	if err != nil {
		return privateCopy{}, fmt.Errorf("container %s: %v", inv.ID, err)
	}
	w.Trace.Mark("write private copy")
	log.Infof("container %s/%s: profile %q (mode %s, %s, %s) injected into %s, read by runc in place of %s", ns, inv.ID, prof.Name, prof.Mode, digest, reason, cp, target)
	w.Trace.Mark("log line")
	return privateCopy{Copy: cp, Target: target, Placeholder: o.Placeholder}, nil
}

// checkRunc makes sure the real runc exists, is executable and is not
// confine-runc itself (runcargs.CheckRunc).
func (w *Wrapper) checkRunc(path string) error { return runcargs.CheckRunc(path, w.Executable) }

// execRunc replaces the process with runc and the original arguments.
func (w *Wrapper) execRunc(log *runcargs.RuncLog, path string, argv []string) error {
	if err := w.checkRunc(path); err != nil {
		log.Errorf("%v", err)
		return err
	}
	// runc gets confine-runc's own argv[0]: its help and usage text name
	// the program the user ran, as they would with runc under that name
	// (urfave/cli's HelpName and runc's usage errors come from argv[0];
	// runc re-executes itself through /proc/self/exe, not argv[0]).
	arg0 := path
	if len(w.Args) > 0 && w.Args[0] != "" {
		arg0 = w.Args[0]
	}
	full := append([]string{arg0}, argv...)
	w.Trace.Mark("check runc")
	w.Trace.Write(w.runDir)
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
