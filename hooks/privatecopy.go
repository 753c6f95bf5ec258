package hooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/confinehq/confine/internal/atomicfile"
)

// The user's bundle is never written. confine-runc renders the edited spec
// into a private copy under run_dir and, in runc's own private mount
// namespace, bind-mounts that copy over the bundle's config.json before it
// execs runc. runc reads the edited spec at the path it was given, so
// everything runc derives from the bundle directory stays the user's: the
// bundle path in `runc state`/`runc list` and in the hooks' state, the
// hooks' working directory, relative root.path and mount sources,
// relative --console-socket and --pid-file paths. A --bundle pointed at the
// copy instead would change all of these (runc's own list.bats checks the
// bundle `runc list` reports).

// CopiesDir is run_dir's subdirectory holding the private copies.
const CopiesDir = "runc"

// OriginFile records, next to a private copy, which container it is for.
const OriginFile = "origin.json"

// DefaultRuncRoot is runc's state directory when --root is not given (as
// root; rootless runc uses $XDG_RUNTIME_DIR/runc).
const DefaultRuncRoot = "/run/runc"

// Origin says which container a private copy belongs to.
type Origin struct {
	// Bundle is the user's bundle directory (absolute).
	Bundle string `json:"bundle"`
	// Config is the file the copy is mounted over: the bundle's
	// config.json with symlinks resolved.
	Config string `json:"config"`
	// Root is runc's --root (absolute; DefaultRuncRoot when not given).
	Root string `json:"root"`
	// ID is the container id; Namespace its containerd namespace.
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	// Command is the runc command that made the copy (create, run, restore).
	Command string `json:"command"`
	// Placeholder, when set, is the empty file (BundleConfigFile, next to
	// the copy) onto which runc's namespace binds Config for mounts that
	// name it (ConfigMounts); WriteCopy creates it.
	Placeholder string `json:"placeholder,omitempty"`
}

// RuncRoot returns runc's state directory for --root as given: absolute
// against cwd, DefaultRuncRoot when empty.
func RuncRoot(root, cwd string) string {
	if root == "" {
		return DefaultRuncRoot
	}
	if !filepath.IsAbs(root) {
		root = filepath.Join(cwd, root)
	}
	return filepath.Clean(root)
}

// CopyDir is where the private copy of a container's spec lives:
// run_dir/runc/<digest of runc's root>/<id>. The same id under two roots
// is two containers, so the root is part of the place.
func CopyDir(runDir, root, id string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(root)))
	return filepath.Join(runDir, CopiesDir, hex.EncodeToString(sum[:8]), id)
}

// WriteCopy writes the rendered spec and its origin into CopyDir,
// atomically, and returns the copy's path. Directories are root-only.
func WriteCopy(runDir string, o Origin, spec []byte) (string, error) {
	if !ValidID(o.ID) {
		return "", fmt.Errorf("container id %q cannot name a directory", o.ID)
	}
	dir := CopyDir(runDir, o.Root, o.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("private copy of the spec: %w", err)
	}
	meta, err := json.Marshal(o)
	if err != nil {
		return "", fmt.Errorf("private copy of the spec: %w", err)
	}
	path := filepath.Join(dir, SpecFileName)
	// The order matters to FindCopy: the origin only names a complete spec.
	// No fsync: the copy lives under run_dir and serves containers that do
	// not survive a crash of the machine either (atomicfile.WriteVolatile).
	if err := atomicfile.WriteVolatile(path, spec, 0o600); err != nil {
		return "", fmt.Errorf("private copy of the spec: %w", err)
	}
	if o.Placeholder != "" {
		if o.Placeholder != filepath.Join(dir, BundleConfigFile) {
			return "", fmt.Errorf("private copy of the spec: placeholder %s is not %s in %s", o.Placeholder, BundleConfigFile, dir)
		}
		// An empty mount point; one left by an earlier create of the
		// same id is reused.
		f, err := os.OpenFile(o.Placeholder, os.O_WRONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return "", fmt.Errorf("private copy of the spec: %w", err)
		}
		f.Close()
	}
	if err := atomicfile.WriteVolatile(filepath.Join(dir, OriginFile), append(meta, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("private copy of the spec: %w", err)
	}
	return path, nil
}

// ValidID reports whether runc accepts a container id, exactly as runc
// checks it (^[\w+-\.]+$, where +-. is a range that also holds ','; not
// "." or ".."). Such an id is one safe path element.
func ValidID(id string) bool {
	if id == "" || id == "." || id == ".." {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r >= '+' && r <= '.':
		default:
			return false
		}
	}
	return true
}

// ReadOrigin reads the origin record of a copy directory.
func ReadOrigin(dir string) (Origin, error) {
	var o Origin
	data, err := os.ReadFile(filepath.Join(dir, OriginFile))
	if err != nil {
		return o, err
	}
	if err := json.Unmarshal(data, &o); err != nil {
		return o, fmt.Errorf("%s: %w", filepath.Join(dir, OriginFile), err)
	}
	return o, nil
}

// FindCopy finds the private copy made for container id from bundle, under
// any runc root: the spec runc read, with the confine annotations. It
// returns the copy's config.json path, or "" when there is none (a
// container started before confine-runc made copies, or not through it).
// When two roots hold a copy for the same bundle and id, the newest wins.
func FindCopy(runDir, bundle, id string) (string, Origin) {
	if !ValidID(id) {
		return "", Origin{}
	}
	roots, err := os.ReadDir(filepath.Join(runDir, CopiesDir))
	if err != nil {
		return "", Origin{}
	}
	bundle = filepath.Clean(bundle)
	var (
		best   string
		bestO  Origin
		bestMt time.Time
	)
	for _, r := range roots {
		dir := filepath.Join(runDir, CopiesDir, r.Name(), id)
		o, err := ReadOrigin(dir)
		if err != nil || o.ID != id || !sameDir(o.Bundle, bundle) {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, SpecFileName))
		if err != nil {
			continue
		}
		if best == "" || st.ModTime().After(bestMt) {
			best, bestO, bestMt = filepath.Join(dir, SpecFileName), o, st.ModTime()
		}
	}
	return best, bestO
}

// sameDir reports whether a (as recorded) is b (as the kernel reports a
// working directory: symlinks resolved).
func sameDir(a, b string) bool {
	if filepath.Clean(a) == b {
		return true
	}
	r, err := filepath.EvalSymlinks(a)
	return err == nil && r == b
}

// StaleCopyAge is how old a copy must be before PruneCopies may remove it
// while runc has no state for its container: a create in flight has no
// state yet.
const StaleCopyAge = 10 * time.Minute

// pruneStamp, in run_dir/runc, records the last PruneCopies pass.
const pruneStamp = ".pruned"

// PruneEvery is how often PruneCopies walks the copies; calls in between
// return at once (one stat), keeping the create path short.
const PruneEvery = time.Minute

// PruneCopies removes the copies of containers runc no longer knows (no
// <root>/<id> state directory) that are older than StaleCopyAge, at most
// once every PruneEvery. It returns how many it removed; errors are
// ignored (a later call retries).
func PruneCopies(runDir string, now time.Time) int {
	base := filepath.Join(runDir, CopiesDir)
	stamp := filepath.Join(base, pruneStamp)
	if st, err := os.Stat(stamp); err == nil && now.Sub(st.ModTime()) < PruneEvery && !st.ModTime().After(now) {
		return 0
	}
	roots, err := os.ReadDir(base)
	if err != nil {
		return 0
	}
	if f, err := os.OpenFile(stamp, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
		_ = os.Chtimes(stamp, now, now)
	}
	n := 0
	for _, r := range roots {
		if !r.IsDir() {
			continue
		}
		ids, err := os.ReadDir(filepath.Join(base, r.Name()))
		if err != nil {
			continue
		}
		for _, e := range ids {
			dir := filepath.Join(base, r.Name(), e.Name())
			st, err := os.Stat(dir)
			if err != nil || now.Sub(st.ModTime()) < StaleCopyAge {
				continue
			}
			o, err := ReadOrigin(dir)
			if err == nil && o.Root != "" {
				if _, err := os.Stat(filepath.Join(o.Root, o.ID)); err == nil || !errors.Is(err, fs.ErrNotExist) {
					continue
				}
			}
			if os.RemoveAll(dir) == nil {
				n++
			}
		}
		_ = os.Remove(filepath.Join(base, r.Name())) // only when empty
	}
	return n
}
