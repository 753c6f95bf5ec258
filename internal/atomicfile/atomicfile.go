// Package atomicfile writes files so that a reader sees either the old
// content or the new content, never a partial file: the data goes to a
// temporary file in the same directory (created with O_EXCL under a random
// name), is fsynced, given its mode, renamed over the target, and the
// directory is fsynced so the rename survives a crash.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tempAttempts bounds the retries when a random temp name already exists.
const tempAttempts = 10000

// WriteFile atomically replaces path with data and gives it mode perm
// (exactly: the umask does not apply). The temporary file is removed on
// every error; path is then left as it was.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// WriteVolatile is WriteFile without the fsyncs: readers still see the
// old or the new content, never a partial file, but a crash may lose the
// file. For files that do not outlive a boot anyway (run_dir: confine-runc's
// private copies of config.json, whose containers die with the machine);
// the two fsyncs cost milliseconds on every container start when run_dir
// is not a tmpfs.
func WriteVolatile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, sync bool) (err error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return fmt.Errorf("writing %q: not a file path", path)
	}
	if dir == "" {
		dir = "."
	}
	f, tmp, err := createTemp(dir, base)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Chmod(perm.Perm()); err != nil {
		return fmt.Errorf("writing %s: setting mode %v: %w", path, perm.Perm(), err)
	}
	if sync {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("writing %s: syncing: %w", path, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: closing: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	// The new content is in place; a failure to sync the directory only
	// weakens durability across a crash, but is still reported.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("writing %s: syncing directory: %w", path, err)
	}
	return nil
}

// createTemp creates ".<base>.<random>.tmp" in dir with O_EXCL, mode 0600
// until WriteFile chmods it.
func createTemp(dir, base string) (*os.File, string, error) {
	for range tempAttempts {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, "", fmt.Errorf("random temp name: %w", err)
		}
		name := filepath.Join(dir, "."+base+"."+hex.EncodeToString(b[:])+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, "", fmt.Errorf("creating temporary file: %w", err)
		}
	}
	return nil, "", fmt.Errorf("creating temporary file in %s: too many name collisions", dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
