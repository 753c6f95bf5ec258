package ctl

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/confinehq/confine/internal/atomicfile"
	"github.com/confinehq/confine/internal/config"
)

// confinectl setup containerd|docker: print, apply or revert the host
// configuration that sends containers through confine-runc. It never
// restarts containerd or dockerd; it tells the operator what to do.

func init() {
	register(command{"setup", "containerd|docker: how to send containers through confine-runc (setup --help)", setupOverview})
	register(command{"setup containerd", "[--apply|--revert]: put confine-runc first in containerd's PATH (systemd drop-in)", setupContainerd})
	register(command{"setup docker", "[--apply|--revert] [--default-runtime]: add the confine runtime to daemon.json", setupDocker})
}

const (
	// DefaultConfineRunc is where the package installs confine-runc.
	DefaultConfineRunc = "/usr/bin/confine-runc"
	// DefaultDockerConfig is dockerd's configuration file.
	DefaultDockerConfig = "/etc/docker/daemon.json"
	// DefaultRuncLinkDir holds runc -> confine-runc (shipped by the
	// package); setup containerd puts it first in containerd's PATH.
	DefaultRuncLinkDir = "/usr/lib/confine/bin"
	// DefaultUnitDir is where setup containerd writes its drop-in.
	DefaultUnitDir = "/etc/systemd/system"
	// DockerRuntimeName is the runtime name in daemon.json: `docker run
	// --runtime confine`.
	DockerRuntimeName = "confine"
	// BackupSuffix names the copy of daemon.json taken before the first
	// --apply; CreatedSuffix marks that daemon.json did not exist then.
	BackupSuffix  = ".confine-backup"
	CreatedSuffix = ".confine-created"
)

// Refusals of every setup target, for callers and tests that branch.
var (
	ErrRuncMissing        = errors.New("the real runc is missing")
	ErrRuncLoop           = errors.New("runc_path leads back to confine-runc")
	ErrConfineRuncMissing = errors.New("confine-runc is missing")
)

const setupOverviewText = `NAME
    confinectl setup - send containers through confine-runc

SYNOPSIS
    confinectl setup containerd [--apply | --revert] [--bin-dir DIR] [--confine-runc PATH]
    confinectl setup docker [--apply | --revert] [--default-runtime]
                            [--docker-config FILE] [--confine-runc PATH]

DESCRIPTION
    Installing confine changes nothing for containers: confined follows them,
    but profiles (seccomp filter, hooks) are injected only into containers
    whose OCI runtime is confine-runc. setup prints (the default), applies
    (--apply) or undoes (--revert) the configuration that does this.

    Without --apply or --revert nothing is written. No command restarts
    containerd or dockerd: each says what to restart. Running containers are
    never changed; only containers created afterwards go through confine-runc.

    Every target refuses when the real runc (runc_path of the configuration)
    is missing, or when runc_path would lead back to confine-runc (a loop that
    would break every container start).

    Run "confinectl setup containerd --help" or "confinectl setup docker
    --help" for the details of each target.
`

func setupOverview(e *env, args []string) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(e.stdout, setupOverviewText)
		return nil
	}
	fmt.Fprint(e.stderr, setupOverviewText)
	if len(args) == 0 {
		return usagef("name a target: containerd or docker")
	}
	return usagef("unknown target %q: want containerd or docker", args[0])
}

// setupOpts are the flags every target shares.
type setupOpts struct {
	apply, revert, defaultRuntime bool
	confineRunc                   string
}

func (e *env) setupFlags(target, synopsis, help string, o *setupOpts) *flag.FlagSet {
	fs := e.flags("setup "+target, synopsis)
	fs.BoolVar(&o.apply, "apply", false, "write the configuration (default: only print it)")
	fs.BoolVar(&o.revert, "revert", false, "undo what --apply wrote")
	fs.BoolVar(&o.defaultRuntime, "default-runtime", false, "docker: also make confine dockerd's default runtime")
	fs.StringVar(&o.confineRunc, "confine-runc", DefaultConfineRunc, "the confine-runc binary to wire in")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help)
		fmt.Fprintf(fs.Output(), "\nOPTIONS\n")
		fs.PrintDefaults()
	}
	return fs
}

func (o *setupOpts) check() error {
	if o.apply && o.revert {
		return usagef("--apply and --revert exclude each other")
	}
	if !filepath.IsAbs(o.confineRunc) {
		return usagef("--confine-runc: %q is not an absolute path", o.confineRunc)
	}
	return nil
}

// setupResult is what --json prints.
type setupResult struct {
	Target  string   `json:"target"`
	Action  string   `json:"action"` // print | apply | revert
	Path    string   `json:"path"`
	Backup  string   `json:"backup,omitempty"`
	Changed bool     `json:"changed"`
	Changes []string `json:"changes,omitempty"`
	Content string   `json:"content,omitempty"`
	Next    []string `json:"next,omitempty"`
}

// checkRealRunc refuses a runc_path that is missing, not executable, or that
// is (or, once linkPath exists, would be) confine-runc itself.
func checkRealRunc(cfg *config.Config, confineRunc, linkPath string) error {
	where := "the built-in default"
	if cfg.Path != "" {
		where = cfg.Path
	}
	runc := cfg.RuncPath
	if linkPath != "" && samePath(runc, linkPath) {
		return fmt.Errorf("%w: runc_path %s (from %s) is the link this command installs to point at confine-runc: it would exec itself forever; set runc_path to the real runc (e.g. /usr/sbin/runc)",
			ErrRuncLoop, runc, where)
	}
	st, err := os.Stat(runc)
	if err != nil {
		return fmt.Errorf("%w: runc_path %s (from %s): %v; install runc (apt-get install runc, dnf install runc) or set runc_path to the real runc; refusing, or every container start would fail",
			ErrRuncMissing, runc, where, unwrapPathErr(err))
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: runc_path %s (from %s) is not an executable file", ErrRuncMissing, runc, where)
	}
	if cs, err := os.Stat(confineRunc); err == nil && os.SameFile(st, cs) {
		return fmt.Errorf("%w: runc_path %s (from %s) is confine-runc (%s) itself: it would exec itself forever; set runc_path to the real runc (e.g. /usr/sbin/runc)",
			ErrRuncLoop, runc, where, confineRunc)
	}
	return nil
}

// checkConfineRunc refuses to wire in a confine-runc that is not there.
func checkConfineRunc(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v; install the confine package or pass --confine-runc", ErrConfineRuncMissing, path, unwrapPathErr(err))
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s is not an executable file", ErrConfineRuncMissing, path)
	}
	return nil
}

// samePath reports whether a and b name the same directory entry once the
// symlinks of their directories are resolved (the entries themselves may be
// missing or be symlinks).
func samePath(a, b string) bool {
	resolve := func(p string) string {
		p = filepath.Clean(p)
		dir, base := filepath.Split(p)
		if d, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(d, base)
		}
		return p
	}
	return resolve(a) == resolve(b)
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ---- docker ----

const setupDockerHelp = `NAME
    confinectl setup docker - register confine-runc as a Docker runtime

SYNOPSIS
    confinectl setup docker [--apply | --revert] [--default-runtime]
                            [--docker-config FILE] [--confine-runc PATH]

DESCRIPTION
    Merges into dockerd's daemon.json (default /etc/docker/daemon.json):

        "runtimes": { "confine": { "path": "/usr/bin/confine-runc" } }

    and, only with --default-runtime, "default-runtime": "confine". Every
    other key, and every byte outside the two edited values, stays as it was.
    Without --apply the merged file is printed and nothing is written.

    With the runtime registered, "docker run --runtime confine ..." runs a
    container through confine-runc; with --default-runtime every new container
    does. Docker places its own default seccomp profile in the spec; a confine
    profile with a seccomp section replaces it (see the README).

    --apply writes the file atomically and, the first time, keeps the
    original as FILE.confine-backup (or marks with FILE.confine-created that
    there was none). --revert puts the original back byte for byte (or
    removes the file confine created), discarding later edits, and removes
    the backup.

    dockerd re-reads runtimes and default-runtime on SIGHUP: run
    "systemctl reload docker" (or restart it). dockerd refuses a setting that
    is given both in daemon.json and as a flag: if dockerd runs with
    --add-runtime confine=... or --default-runtime, drop those flags.

    Refuses when the real runc (runc_path) is missing or is confine-runc.
`

func setupDocker(e *env, args []string) error {
	var o setupOpts
	fs := e.setupFlags("docker", "[--apply|--revert] [--default-runtime] [--docker-config FILE] [--confine-runc PATH]", setupDockerHelp, &o)
	file := fs.String("docker-config", DefaultDockerConfig, "dockerd's daemon.json")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.revert && o.defaultRuntime {
		return usagef("--revert restores the whole file: --default-runtime does not apply")
	}
	res := setupResult{Target: "docker", Path: *file, Backup: *file + BackupSuffix}
	if o.revert {
		res.Action = "revert"
		if err := revertDockerConfig(*file, &res); err != nil {
			return err
		}
		return e.setupReport(res)
	}

	cfg, err := e.config()
	if err != nil {
		return err
	}
	if err := checkRealRunc(cfg, o.confineRunc, ""); err != nil {
		return err
	}
	orig, perm, existed, err := readDockerConfig(*file)
	if err != nil {
		return err
	}
	merged, changes, err := MergeDaemonJSON(orig, DockerRuntimeName, o.confineRunc, o.defaultRuntime)
	if err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	res.Changes = changes
	res.Changed = len(changes) > 0
	res.Content = string(merged)
	res.Backup = ""
	next := []string{"reload dockerd: systemctl reload docker (SIGHUP re-reads runtimes; or restart it)"}
	if o.defaultRuntime {
		next = append(next, "every new Docker container then runs through confine-runc")
	} else {
		next = append(next, "then: docker run --runtime "+DockerRuntimeName+" ... (add --default-runtime to make it the default)")
	}
	if !o.apply {
		res.Action = "print"
		res.Next = append([]string{"write it: confinectl setup docker --apply" + map[bool]string{true: " --default-runtime", false: ""}[o.defaultRuntime]}, next...)
		return e.setupReport(res)
	}

	res.Action = "apply"
	if err := checkConfineRunc(o.confineRunc); err != nil {
		return err
	}
	if !res.Changed {
		res.Changes = []string{"already configured; nothing written"}
		res.Content = ""
		return e.setupReport(res)
	}
	if _, err := os.Stat(filepath.Dir(*file)); err != nil {
		return fmt.Errorf("%s: %v: is Docker installed? (pass --docker-config for another file)", filepath.Dir(*file), unwrapPathErr(err))
	}
	backup, err := saveDockerBackup(*file, orig, perm, existed)
	if err != nil {
		return err
	}
	res.Backup = backup
	if err := atomicfile.WriteFile(*file, merged, perm); err != nil {
		return err
	}
	res.Content = ""
	res.Next = append(next, "undo: confinectl setup docker --revert")
	return e.setupReport(res)
}

// readDockerConfig returns the file's bytes and mode; a missing file is
// empty with mode 0644.
func readDockerConfig(path string) ([]byte, fs.FileMode, bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0o644, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("reading %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, false, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, false, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, st.Mode().Perm(), true, nil
}

// saveDockerBackup keeps the state before the first --apply: a byte copy of
// the file, or a marker that there was none. A later --apply keeps the
// first backup, so --revert always returns to the state before confine.
func saveDockerBackup(path string, orig []byte, perm fs.FileMode, existed bool) (string, error) {
	backup, created := path+BackupSuffix, path+CreatedSuffix
	for _, p := range []string{backup, created} {
		if _, err := os.Lstat(p); err == nil {
			return p, nil
		}
	}
	if existed {
		if err := atomicfile.WriteFile(backup, orig, perm); err != nil {
			return "", fmt.Errorf("keeping a backup: %w", err)
		}
		return backup, nil
	}
	if err := atomicfile.WriteFile(created, []byte("daemon.json did not exist before `confinectl setup docker --apply`; --revert removes it\n"), 0o644); err != nil {
		return "", fmt.Errorf("marking %s as created by confine: %w", path, err)
	}
	return created, nil
}

func revertDockerConfig(path string, res *setupResult) error {
	backup, created := path+BackupSuffix, path+CreatedSuffix
	res.Next = []string{"reload dockerd: systemctl reload docker (or restart it)"}
	if st, err := os.Stat(backup); err == nil {
		data, err := os.ReadFile(backup)
		if err != nil {
			return fmt.Errorf("reading the backup: %w", err)
		}
		if err := atomicfile.WriteFile(path, data, st.Mode().Perm()); err != nil {
			return fmt.Errorf("restoring %s: %w", path, err)
		}
		if err := os.Remove(backup); err != nil {
			return fmt.Errorf("restored %s, but removing the backup: %w", path, err)
		}
		res.Changed = true
		res.Changes = []string{"restored " + path + " from " + backup + " and removed the backup"}
		return nil
	}
	if _, err := os.Lstat(created); err == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", path, err)
		}
		if err := os.Remove(created); err != nil {
			return fmt.Errorf("removed %s, but removing the marker: %w", path, err)
		}
		res.Changed = true
		res.Changes = []string{"removed " + path + " (confine created it)"}
		return nil
	}
	res.Backup = ""
	res.Next = nil
	return fmt.Errorf("nothing to revert: neither %s nor %s exists (was --apply run with this --docker-config?)", backup, created)
}

// setupReport prints a result as text or JSON.
func (e *env) setupReport(r setupResult) error {
	if e.json {
		return e.printJSON(r)
	}
	w := e.stdout
	if r.Action == "print" && r.Content != "" {
		if r.Target == "docker" {
			fmt.Fprintf(w, "# %s after --apply:\n", r.Path)
		} else {
			fmt.Fprintf(w, "# what --apply does:\n")
		}
		fmt.Fprint(w, r.Content)
		if !strings.HasSuffix(r.Content, "\n") {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	if r.Action == "print" && r.Target == "docker" && !r.Changed {
		fmt.Fprintf(w, "%s already has the confine runtime; --apply would write nothing.\n", r.Path)
	}
	for _, c := range r.Changes {
		fmt.Fprintf(w, "%s\n", c)
	}
	if r.Backup != "" && r.Action == "apply" {
		fmt.Fprintf(w, "backup: %s\n", r.Backup)
	}
	writeNext(w, r.Next)
	return nil
}

func writeNext(w io.Writer, next []string) {
	if len(next) == 0 {
		return
	}
	fmt.Fprintln(w, "\nNext:")
	for _, n := range next {
		fmt.Fprintf(w, "  - %s\n", n)
	}
}
