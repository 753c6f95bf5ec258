// Package kill stops a whole container fast and without ever signalling a
// bare PID that may have been reused: by the cgroup (cgroup.kill, or
// freeze + pidfd signals + thaw) or by a pidfd whose process identity has
// been re-checked after opening.
package kill

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultCgroupRoot is where the cgroup hierarchies are mounted.
const DefaultCgroupRoot = "/sys/fs/cgroup"

// Errors callers branch on. They are wrapped with the cgroup path, the
// container or the PID concerned.
var (
	// ErrNoCgroup: the container's cgroup does not exist (never created,
	// or already removed because the container is gone).
	ErrNoCgroup = errors.New("cgroup not found")
	// ErrAmbiguous: more than one cgroup matches the container.
	ErrAmbiguous = errors.New("more than one cgroup matches")
	// ErrPidReused: the PID now belongs to another process than the one
	// identified by its start time. Nothing was signalled.
	ErrPidReused = errors.New("pid reused by another process")
	// ErrNoProcess: the process is gone. Nothing was signalled.
	ErrNoProcess = errors.New("no such process")
)

// Finder locates container cgroups under a cgroup mount root, so tests can
// point it at a fake tree.
type Finder struct {
	// Root is the directory the hierarchies are mounted under
	// (DefaultCgroupRoot): either a cgroup2 mount itself (pure v2) or a
	// directory of per-controller v1 mounts, possibly with a cgroup2 mount
	// at "unified" (hybrid).
	Root string
}

// NewFinder returns a Finder for the hierarchies under root.
func NewFinder(root string) Finder { return Finder{Root: root} }

// Cgroup locates the cgroup of container id of containerd namespace ns
// under DefaultCgroupRoot. See Finder.Cgroup.
func Cgroup(ns, id string) (string, error) { return NewFinder(DefaultCgroupRoot).Cgroup(ns, id) }

// Cgroup returns the directory of the cgroup of container id in containerd
// namespace ns, preferring the cgroup v2 directory (which has cgroup.kill
// and cgroup.freeze), then the v1 freezer one, then any other v1 one.
// Layouts tried, in order:
//
//	<ns>/<id>                          containerd and nerdctl (cgroupfs driver)
//	docker/<id>                        Docker (cgroupfs driver)
//	system.slice/docker-<id>.scope     Docker (systemd driver)
//	*.slice/…/*-<id>.scope             any systemd-driver scope, up to three slices deep
//
// A missing cgroup is ErrNoCgroup; several scopes matching is ErrAmbiguous.
func (f Finder) Cgroup(ns, id string) (string, error) {
	if err := validName("namespace", ns); err != nil {
		return "", err
	}
	if err := validName("container id", id); err != nil {
		return "", err
	}
	hs := f.hierarchies()
	if len(hs) == 0 {
		return "", fmt.Errorf("locating cgroup of %s/%s: no cgroup hierarchy under %s: %w", ns, id, f.Root, ErrNoCgroup)
	}
	fixed := []string{
		filepath.Join(ns, id),
		filepath.Join("docker", id),
		filepath.Join("system.slice", "docker-"+id+".scope"),
	}
	for _, rel := range fixed {
		if p, ok := f.best(hs, rel); ok {
			return p, nil
		}
	}
	// systemd driver: <slice>/<prefix>-<id>.scope. ns and id were checked
	// to hold no glob metacharacters.
	for _, h := range hs {
		var matches []string
		for depth := 1; depth <= 3; depth++ {
			pat := filepath.Join(h, strings.Repeat("*.slice/", depth)+"*-"+id+".scope")
			m, err := filepath.Glob(pat)
			if err != nil {
				return "", fmt.Errorf("locating cgroup of %s/%s: %w", ns, id, err)
			}
			matches = append(matches, m...)
		}
		switch len(matches) {
		case 0:
			continue
		case 1:
			rel, _ := filepath.Rel(h, matches[0])
			if p, ok := f.best(hs, rel); ok {
				return p, nil
			}
		default:
			return "", fmt.Errorf("locating cgroup of %s/%s: %w: %s", ns, id, ErrAmbiguous, strings.Join(matches, ", "))
		}
	}
	return "", fmt.Errorf("locating cgroup of %s/%s under %s: %w", ns, id, f.Root, ErrNoCgroup)
}

// Resolve returns the directory for a cgroup path as /proc/PID/cgroup shows
// it (for example "/default/web" from the line "0::/default/web"),
// preferring v2, then the v1 freezer, then any other v1 hierarchy.
func (f Finder) Resolve(rel string) (string, error) {
	clean := filepath.Clean("/" + rel)
	if clean == "/" || clean != "/"+strings.TrimPrefix(rel, "/") {
		return "", fmt.Errorf("resolving cgroup %q: not a clean non-root cgroup path", rel)
	}
	if p, ok := f.best(f.hierarchies(), clean[1:]); ok {
		return p, nil
	}
	return "", fmt.Errorf("resolving cgroup %q under %s: %w", rel, f.Root, ErrNoCgroup)
}

// hierarchies lists the hierarchy mount points under Root in order of
// preference: cgroup v2 first, then the v1 freezer, then the other v1
// hierarchies.
func (f Finder) hierarchies() []string {
	if exists(filepath.Join(f.Root, "cgroup.controllers")) {
		return []string{f.Root} // pure v2
	}
	var hs []string
	if exists(filepath.Join(f.Root, "unified", "cgroup.controllers")) {
		hs = append(hs, filepath.Join(f.Root, "unified"))
	}
	for _, c := range []string{"freezer", "pids", "systemd", "memory", "cpu", "cpuacct", "cpu,cpuacct", "devices", "blkio", "cpuset"} {
		if d := filepath.Join(f.Root, c); exists(filepath.Join(d, "cgroup.procs")) {
			hs = append(hs, d)
		}
	}
	return hs
}

// best returns the first hierarchy in hs where rel is a cgroup.
func (f Finder) best(hs []string, rel string) (string, bool) {
	for _, h := range hs {
		p := filepath.Join(h, rel)
		if exists(filepath.Join(p, "cgroup.procs")) {
			return p, true
		}
	}
	return "", false
}

// validName accepts what containerd accepts for namespaces and container
// ids: letters, digits, '.', '_' and '-', not starting with a separator.
// This also keeps paths and glob patterns built from them safe.
func validName(what, s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("invalid %s %q: length must be 1 to 255", what, s)
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case (r == '.' || r == '_' || r == '-') && i > 0:
		default:
			return fmt.Errorf("invalid %s %q: character %q", what, s, r)
		}
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// notExist reports whether err means a file of the cgroup is gone (ENODEV
// is what a removed cgroup's open file answers).
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV)
}
