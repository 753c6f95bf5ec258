package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// This file holds what is not a parse of a file's bytes but a use of
// /proc's magic links: a process's working directory, root and
// namespaces, opened or stat'ed through the one FS.

// Self names this process where a PID is asked for (/proc/self).
const Self = 0

// pidDir is the directory of pid, "self" for Self.
func (f FS) pidDir(pid int) string {
	if pid == Self {
		return f.Path("self")
	}
	return f.Path(strconv.Itoa(pid))
}

// Cwd reads /proc/PID/cwd: the process's working directory (for a
// container's shim, its bundle).
func (p Proc) Cwd() (string, error) {
	return p.readlink("cwd")
}

// OpenInCwd opens name in the process's working directory through
// /proc/PID/cwd (in the process's mount namespace, whatever this
// process's is).
func (p Proc) OpenInCwd(name string) (*os.File, error) {
	f, err := os.Open(filepath.Join(p.path("cwd"), filepath.Clean("/"+name)))
	if err != nil {
		return nil, p.fail("cwd/"+name, err)
	}
	return f, nil
}

// NamespaceID is a namespace's identity: the device and inode of its nsfs
// file (the inode alone, as Namespace returns it, is unique per nsfs).
type NamespaceID struct {
	Dev, Ino uint64
}

func (n NamespaceID) String() string { return "[" + strconv.FormatUint(n.Ino, 10) + "]" }

// StatNamespace returns the identity of namespace kind ("net", "mnt", …)
// of process pid (Self: this process).
func (f FS) StatNamespace(pid int, kind string) (NamespaceID, error) {
	var st unix.Stat_t
	name := filepath.Join(f.pidDir(pid), "ns", kind)
	if err := unix.Stat(name, &st); err != nil {
		return NamespaceID{}, fmt.Errorf("reading %s namespace of %s: %w", kind, pidName(pid), err)
	}
	return NamespaceID{Dev: st.Dev, Ino: st.Ino}, nil
}

// OpenNamespace opens namespace kind of process pid (Self: this process),
// for setns(2) or a later FstatNamespace. The caller checks that the
// process was still the one meant once the file was open (a pidfd).
func (f FS) OpenNamespace(pid int, kind string) (*os.File, error) {
	return os.Open(filepath.Join(f.pidDir(pid), "ns", kind))
}

// FstatNamespace returns the identity of an open namespace file.
func FstatNamespace(file *os.File) (NamespaceID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(file.Fd()), &st); err != nil {
		return NamespaceID{}, err
	}
	return NamespaceID{Dev: st.Dev, Ino: st.Ino}, nil
}

// OpenRoot opens /proc/PID/root as an O_PATH directory descriptor: the
// process's root, for openat2(RESOLVE_IN_ROOT) lookups inside its
// container. The caller closes it.
func (f FS) OpenRoot(pid int) (int, error) {
	fd, err := unix.Open(filepath.Join(f.pidDir(pid), "root"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening the root of %s: %w", pidName(pid), err)
	}
	return fd, nil
}

func pidName(pid int) string {
	if pid == Self {
		return "this process"
	}
	return "process " + strconv.Itoa(pid)
}
