package ctl

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/confinehq/confine/internal/atomicfile"
)

// setup containerd: a systemd drop-in for containerd.service that puts a
// directory holding runc -> confine-runc first in containerd's PATH.
//
// Why this wiring: containerd's runc shim (io.containerd.runc.v2, the same
// in containerd 1.6 and 2.x) runs the binary named "runc" through the PATH
// it inherits from containerd, for every client (ctr, nerdctl, Docker's
// default runtime, CRI) unless a container names another binary. A
// runtimes.<name> entry in config.toml only reaches CRI clients, and the
// /opt/containerd/bin directory of the opt plugin is not in the PATH of
// Debian's containerd 1.6.20 (measured). Setting PATH in the unit works on
// every containerd that systemd starts; confine-runc then execs the real
// runc by its absolute path (runc_path), so there is no loop.

const setupContainerdHelp = `NAME
    confinectl setup containerd - make containerd's shims run confine-runc

SYNOPSIS
    confinectl setup containerd [--apply | --revert] [--unit-dir DIR]
                                [--link-dir DIR] [--confine-runc PATH]

DESCRIPTION
    containerd's runc shim runs the binary named "runc" through the PATH it
    inherits from containerd, for every client: ctr, nerdctl, Docker's
    default runtime and CRI, in every namespace, in containerd 1.6 and 2.x.
    --apply writes a systemd drop-in for containerd.service,

        DIR/containerd.service.d/90-confine.conf:
        [Service]
        Environment="PATH=/usr/lib/confine/bin:/usr/local/sbin:..."

    where /usr/lib/confine/bin/runc is a link to confine-runc (the package
    ships it; --apply creates it when missing). confine-runc injects the
    profile and execs the real runc by its absolute path (runc_path), so
    the lookup never loops. Then restart containerd once:

        systemctl daemon-reload && systemctl restart containerd

    containerd.service has KillMode=process: running containers keep
    running (and keep their runc); only new containers go through
    confine-runc. Mind fail_mode: with "closed" (the default), containers
    are refused while confined is not running.

    Other ways, compared:
    One container, nothing to configure (try confine this way first):
        ctr run --runc-binary /usr/bin/confine-runc IMAGE ID
        nerdctl run --runtime /usr/bin/confine-runc IMAGE
    Kubernetes CRI only:
        BinaryName in the runc runtime options of containerd's config.toml,
        or a runtimes.confine entry with default_runtime_name; neither
        applies to ctr, nerdctl or Docker.
    containerd not started by systemd:
        start it with PATH=/usr/lib/confine/bin:$PATH in its environment.

    Without --apply or --revert nothing is written; the command says whether
    the containerd serving containerd_address runs confine-runc today (it
    reads that process's PATH). --revert removes the drop-in, and the link and
    directories only when --apply created them: the files are back byte for
    byte. It refuses when the real runc (runc_path) is missing or would lead
    back to confine-runc.
`

// dropinName is the drop-in's file name; 90 sorts after the usual ones, so
// its PATH wins over an earlier Environment=PATH.
const dropinName = "90-confine.conf"

// dropinMarker starts every drop-in this command writes.
const dropinMarker = "# Written by `confinectl setup containerd --apply`"

// createdPrefix marks, in the drop-in, what --apply created (so --revert
// removes exactly that).
const createdPrefix = "# confine-created: "

// systemdDefaultPath is the PATH systemd gives services (Debian's
// containerd runs with it).
const systemdDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func setupContainerd(e *env, args []string) error {
	var o setupOpts
	fs := e.setupFlags("containerd", "[--apply|--revert] [--unit-dir DIR] [--link-dir DIR] [--confine-runc PATH]", setupContainerdHelp, &o)
	unitDir := fs.String("unit-dir", DefaultUnitDir, "systemd unit directory for the containerd.service drop-in")
	linkDir := fs.String("link-dir", DefaultRuncLinkDir, "directory holding runc -> confine-runc, put first in containerd's PATH")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	for flag, p := range map[string]string{"--unit-dir": *unitDir, "--link-dir": *linkDir} {
		if !filepath.IsAbs(p) {
			return usagef("%s: %q is not an absolute path", flag, p)
		}
	}
	dropinDir := filepath.Join(*unitDir, "containerd.service.d")
	dropin := filepath.Join(dropinDir, dropinName)
	link := filepath.Join(*linkDir, "runc")
	res := setupResult{Target: "containerd", Path: dropin}

	if o.revert {
		res.Action = "revert"
		if err := revertContainerdDropin(dropin, o.confineRunc, &res); err != nil {
			return err
		}
		return e.setupReport(res)
	}

	cfg, err := e.config()
	if err != nil {
		return err
	}
	if err := checkRealRunc(cfg, o.confineRunc, link); err != nil {
		return err
	}
	state, err := linkState(link, o.confineRunc)
	if err != nil {
		return err
	}
	if state != linkAbsent && state != linkOurs {
		return fmt.Errorf("%s exists and is not confine's link (%s): refusing to put %s first in containerd's PATH; pass --link-dir DIR", link, state, *linkDir)
	}
	current, _ := os.ReadFile(dropin)
	if len(current) > 0 && !bytes.HasPrefix(current, []byte(dropinMarker)) {
		return fmt.Errorf("%s exists and was not written by confinectl: refusing to replace it", dropin)
	}
	w := probeContainerd(cfg.ContainerdAddress, o.confineRunc)
	inEffect := w.err == nil && w.confine
	wiringNote := w.String()

	if !o.apply {
		res.Action = "print"
		res.Content = dropinText(*linkDir, nil)
		if state == linkAbsent {
			res.Content = fmt.Sprintf("ln -s %s %s\n\n%s", o.confineRunc, link, res.Content)
		}
		res.Changed = !bytes.Equal(current, []byte(dropinText(*linkDir, createdOf(current)))) || state == linkAbsent
		res.Changes = []string{wiringNote}
		if !inEffect {
			res.Next = []string{"confinectl setup containerd --apply, then: systemctl daemon-reload && systemctl restart containerd (running containers keep running)"}
		}
		res.Next = append(res.Next, "one container only, nothing to configure: ctr run --runc-binary "+o.confineRunc+" IMAGE ID (nerdctl: --runtime "+o.confineRunc+")")
		return e.setupReport(res)
	}

	res.Action = "apply"
	if err := checkConfineRunc(o.confineRunc); err != nil {
		return err
	}
	var created []string
	if len(current) > 0 {
		created = createdOf(current) // a second --apply keeps the first record
	}
	if state == linkAbsent {
		made, err := mkdirAllRecord(*linkDir, 0o755)
		if err != nil {
			return err
		}
		created = append(created, made...)
		if err := os.Symlink(o.confineRunc, link); err != nil {
			return fmt.Errorf("installing the link: %w", err)
		}
		created = append(created, link)
		res.Changes = append(res.Changes, "created the symlink "+link+" pointing at "+o.confineRunc)
	}
	if len(current) == 0 {
		made, err := mkdirAllRecord(dropinDir, 0o755)
		if err != nil {
			return err
		}
		created = append(made, created...)
	}
	text := dropinText(*linkDir, created)
	if string(current) == text {
		res.Changes = append(res.Changes, dropin+" already in place; nothing written")
	} else {
		if err := atomicfile.WriteFile(dropin, []byte(text), 0o644); err != nil {
			return err
		}
		res.Changed = true
		res.Changes = append(res.Changes, "wrote "+dropin+" (PATH="+*linkDir+":...)")
	}
	if inEffect {
		res.Next = []string{wiringNote}
	} else {
		res.Next = []string{
			"restart containerd to take it: systemctl daemon-reload && systemctl restart containerd (running containers keep running)",
			"today: " + wiringNote,
		}
	}
	res.Next = append(res.Next, "check: confinectl status (wiring line), and confinectl ps shows new containers with the seccomp layer", "undo: confinectl setup containerd --revert")
	if cfg.FailMode == "closed" {
		res.Next = append(res.Next, "fail_mode is closed: new containers are refused while confined is not running (systemctl enable --now confined)")
	}
	return e.setupReport(res)
}

// dropinText is the drop-in; created lists what --apply created.
func dropinText(linkDir string, created []string) string {
	var b strings.Builder
	b.WriteString(dropinMarker + "; `--revert` removes it.\n")
	b.WriteString("# containerd's runc shims look \"runc\" up in the PATH they inherit:\n")
	b.WriteString("# " + linkDir + "/runc is confine-runc, which execs the real runc (runc_path).\n")
	for _, c := range created {
		b.WriteString(createdPrefix + c + "\n")
	}
	b.WriteString("[Service]\n")
	fmt.Fprintf(&b, "Environment=\"PATH=%s:%s\"\n", linkDir, systemdDefaultPath)
	return b.String()
}

// createdOf reads the paths a drop-in records as created by --apply.
func createdOf(dropin []byte) []string {
	var out []string
	for _, l := range strings.Split(string(dropin), "\n") {
		if p, ok := strings.CutPrefix(l, createdPrefix); ok && filepath.IsAbs(p) {
			out = append(out, p)
		}
	}
	return out
}

// mkdirAllRecord creates dir and its missing parents, returning those it
// created, outermost first.
func mkdirAllRecord(dir string, perm fs.FileMode) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append([]string{d}, missing...)
		if d == filepath.Dir(d) {
			break
		}
	}
	for _, d := range missing {
		if err := os.Mkdir(d, perm); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	return missing, nil
}

// revertContainerdDropin removes the drop-in and what --apply created, in
// reverse order; a created link is removed only while it is still ours and
// a created directory only while it is empty.
func revertContainerdDropin(dropin, confineRunc string, res *setupResult) error {
	data, err := os.ReadFile(dropin)
	if errors.Is(err, fs.ErrNotExist) {
		res.Changes = []string{"no " + dropin + ": nothing to revert"}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", dropin, err)
	}
	if !bytes.HasPrefix(data, []byte(dropinMarker)) {
		return fmt.Errorf("%s was not written by confinectl: left alone", dropin)
	}
	if err := os.Remove(dropin); err != nil {
		return fmt.Errorf("removing %s: %w", dropin, err)
	}
	res.Changed = true
	res.Changes = []string{"removed " + dropin}
	created := createdOf(data)
	for i := len(created) - 1; i >= 0; i-- {
		p := created[i]
		st, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			if err := os.Remove(p); err == nil {
				res.Changes = append(res.Changes, "removed "+p)
			} else {
				res.Changes = append(res.Changes, "kept "+p+" (not empty)")
			}
			continue
		}
		if k, _ := linkState(p, confineRunc); k == linkOurs {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing %s: %w", p, err)
			}
			res.Changes = append(res.Changes, "removed "+p)
		}
	}
	res.Next = []string{"restart containerd to take it: systemctl daemon-reload && systemctl restart containerd (running containers keep running)"}
	return nil
}

type linkKind string

const (
	linkAbsent linkKind = "absent"
	linkOurs   linkKind = "ours"
)

// linkState says whether link is missing, confine's symlink to confineRunc,
// or something else (described).
func linkState(link, confineRunc string) (linkKind, error) {
	st, err := os.Lstat(link)
	if errors.Is(err, fs.ErrNotExist) {
		return linkAbsent, nil
	}
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", link, err)
	}
	if st.Mode()&fs.ModeSymlink == 0 {
		return linkKind(fmt.Sprintf("a %s, not a symlink", describeMode(st.Mode()))), nil
	}
	target, err := os.Readlink(link)
	if err != nil {
		return "", fmt.Errorf("reading the link %s: %w", link, err)
	}
	// The exact target we write, even when dangling (package removed).
	if target == confineRunc {
		return linkOurs, nil
	}
	if ts, err := os.Stat(link); err == nil {
		if cs, err := os.Stat(confineRunc); err == nil && os.SameFile(ts, cs) {
			return linkOurs, nil
		}
	}
	return linkKind("a symlink to " + target), nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	default:
		return m.Type().String() + " file"
	}
}
