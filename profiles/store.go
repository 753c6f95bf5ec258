package profiles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/confinehq/confine/internal/atomicfile"
)

// Store keeps profiles as <name>.yaml files in one directory, written
// atomically (temp file, fsync, rename): a reader never sees half a file.
type Store struct {
	Dir string
}

// Path is the file a profile of that name lives in.
func (s Store) Path(name string) string { return filepath.Join(s.Dir, name+".yaml") }

// Write validates nothing and writes p atomically with the header comments.
func (s Store) Write(p *Profile, header ...string) error {
	if !ValidName(p.Name) {
		return fmt.Errorf("writing profile: invalid name %q", p.Name)
	}
	data, err := Marshal(p, header...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("writing profile %q: %w", p.Name, err)
	}
	if err := atomicfile.WriteFile(s.Path(p.Name), data, 0o644); err != nil {
		return fmt.Errorf("writing profile %q: %w", p.Name, err)
	}
	return nil
}

// Install writes p, first keeping any existing file as <name>.yaml.bak
// (also written atomically). It returns the backup's path, "" if there was
// nothing to keep.
func (s Store) Install(p *Profile, header ...string) (string, error) {
	dst := s.Path(p.Name)
	backup := ""
	old, err := os.ReadFile(dst)
	switch {
	case err == nil:
		backup = dst + ".bak"
		if err := atomicfile.WriteFile(backup, old, 0o644); err != nil {
			return "", fmt.Errorf("keeping backup of %s: %w", dst, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("reading installed profile %s: %w", dst, err)
	}
	return backup, s.Write(p, header...)
}

// Read reads and validates the named profile.
func (s Store) Read(name string, opts Options) (*Result, error) {
	return ReadFile(s.Path(name), opts)
}
