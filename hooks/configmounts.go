package hooks

import (
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BundleConfigFile, in a private copy's directory, is where runc's mount
// namespace shows the user's own config.json to mounts that name it (see
// ConfigMounts).
const BundleConfigFile = "bundle-config.json"

// ConfigMounts points bind mounts whose source is the bundle's own
// config.json at Placeholder.
//
// In runc's mount namespace the private copy is mounted over the bundle's
// config.json, so a bind mount of that path would give the container the
// copy (another inode, confine's edits). confine-runc binds the user's file
// onto Placeholder in that namespace before it mounts the copy (see
// runcargs.Overlay), so a source pointed there gives the container the
// user's file itself, as plain runc would (runc's own mounts.bats compares
// the inodes). A source is the bundle's config.json when it is the same
// file (device and inode, symlinks followed as mount(2) follows them),
// whatever path names it: "./config.json", an absolute path, a symlink.
//
// A recursive bind of a directory holding config.json (the bundle itself
// with "rbind") still carries the copy's mount; a plain bind does not.
type ConfigMounts struct {
	// Bundle is the bundle directory: runc resolves relative sources
	// against it.
	Bundle string
	// Config is the bundle's config.json.
	Config string
	// Placeholder is the file the user's config.json is bound onto.
	Placeholder string

	redirected bool
}

// Modify rewrites the sources; Redirected then says whether any was.
func (m *ConfigMounts) Modify(s *specs.Spec) error {
	m.redirected = false
	var cfg os.FileInfo
	for i := range s.Mounts {
		mt := &s.Mounts[i]
		if mt.Source == "" || !isBind(*mt) {
			continue
		}
		if cfg == nil {
			st, err := os.Stat(m.Config)
			if err != nil {
				// runc could not read it either; nothing to point at.
				return nil
			}
			cfg = st
		}
		src := mt.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(m.Bundle, src)
		}
		if st, err := os.Stat(src); err == nil && os.SameFile(st, cfg) {
			mt.Source = m.Placeholder
			m.redirected = true
		}
	}
	return nil
}

// Redirected reports whether the last Modify pointed a mount at
// Placeholder: the bundle's config.json must then be bound onto it.
func (m *ConfigMounts) Redirected() bool { return m.redirected }

// isBind reports whether runc performs mt as a bind mount.
func isBind(mt specs.Mount) bool {
	return mt.Type == "bind" || slices.Contains(mt.Options, "bind") || slices.Contains(mt.Options, "rbind")
}
