// Package proc is confine's one door to /proc.
//
// An FS is built from a root path ("/proc" on a host, a fixture directory
// in tests) and never from a global. Per-process reads go through a Proc
// handle that remembers the process's start time, because PIDs wrap: the
// pair (PID, start time) is a Key that names one process for its lifetime.
//
// Every file is parsed by a pure function of its bytes (parseStat,
// parseStatus, parseCgroup, parseFdinfo, parseNet, ...), so parsers are
// table-tested and fuzzed without a live /proc. Files are read without
// stat, because /proc files report a size of 0 or 4096 whatever they hold.
//
// Processes come and go while they are being read. A read that finds its
// process missing re-checks the process and reports:
//   - ErrNotExist: there is no such process, or the entry does not exist
//     for a live one (a kernel thread has no exe);
//   - ErrGone: the process exited, or its PID now names another process,
//     since the handle was made;
//   - ErrZombie: the process has exited but is not reaped; its exe, root,
//     namespaces, fds and network are no longer readable, and it is not a
//     live violator.
package proc

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
)

// Sentinel errors that callers branch on; see the package documentation.
var (
	ErrNotExist = errors.New("no such process or entry")
	ErrGone     = errors.New("process exited while being read")
	ErrZombie   = errors.New("process is a zombie")
	// ErrParse is wrapped by every error about malformed file contents.
	ErrParse = errors.New("malformed proc file")
)

// maxFileSize bounds one read. /proc/PID/net/tcp on a busy host is the
// largest file read here (about 150 bytes a socket).
const maxFileSize = 64 << 20

// FS reads a proc file system mounted at (or copied to) a root directory.
type FS struct {
	root string
}

// NewFS returns an FS for the proc tree at root: "/proc" on a live
// system, a fixture directory in tests.
func NewFS(root string) (FS, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return FS{}, fmt.Errorf("opening proc root: %w", err)
	}
	if !fi.IsDir() {
		return FS{}, fmt.Errorf("opening proc root %s: not a directory", root)
	}
	return FS{root: root}, nil
}

// Path joins elements onto the root.
func (f FS) Path(elem ...string) string {
	return filepath.Join(append([]string{f.root}, elem...)...)
}

// AllPIDs lists the processes (thread-group leaders) in numeric order.
func (f FS) AllPIDs() ([]int, error) {
	d, err := os.Open(f.root)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing processes in %s: %w", f.root, err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// Key names one process for its lifetime: PIDs wrap, start times do not
// repeat for one PID.
type Key struct {
	PID int
	// StartTime is field 22 of /proc/PID/stat: clock ticks after boot.
	StartTime uint64
}

func (k Key) String() string { return fmt.Sprintf("%d@%d", k.PID, k.StartTime) }

// Proc is a handle on one process. It is a small value; copy it freely.
type Proc struct {
	fs  FS
	key Key
}

// Proc returns a handle on the process pid as it is now. It fails with
// ErrNotExist when there is no such process.
func (f FS) Proc(pid int) (Proc, error) {
	p := Proc{fs: f, key: Key{PID: pid}}
	st, err := p.readStat()
	if err != nil {
		if isNotExist(err) {
			return Proc{}, fmt.Errorf("opening process %d: %w", pid, ErrNotExist)
		}
		return Proc{}, fmt.Errorf("opening process %d: %w", pid, err)
	}
	p.key.StartTime = st.StartTime
	return p, nil
}

// ProcKey returns a handle on the process named by k. It fails with
// ErrNotExist when there is no process k.PID and with ErrGone when the PID
// now names another process.
func (f FS) ProcKey(k Key) (Proc, error) {
	p, err := f.Proc(k.PID)
	if err != nil {
		return Proc{}, err
	}
	if p.key.StartTime != k.StartTime {
		return Proc{}, fmt.Errorf("opening process %s: pid reused (now started at %d): %w", k, p.key.StartTime, ErrGone)
	}
	return p, nil
}

// PID returns the process ID.
func (p Proc) PID() int { return p.key.PID }

// Key returns the process's identity.
func (p Proc) Key() Key { return p.key }

func (p Proc) path(elem ...string) string {
	return p.fs.Path(append([]string{strconv.Itoa(p.key.PID)}, elem...)...)
}

func (p Proc) readStat() (Stat, error) {
	b, err := readFileNoStat(p.path("stat"))
	if err != nil {
		return Stat{}, err
	}
	return parseStat(b)
}

// Alive reports whether the handle's process still exists and is not a
// zombie: nil, ErrGone or ErrZombie (or another error reading its stat).
func (p Proc) Alive() error {
	st, err := p.readStat()
	if err != nil {
		if isNotExist(err) {
			return ErrGone
		}
		return err
	}
	if st.StartTime != p.key.StartTime {
		return ErrGone
	}
	if st.State == 'Z' || st.State == 'X' || st.State == 'x' {
		return ErrZombie
	}
	return nil
}

// fail turns an error reading what into the error the caller sees,
// deciding between ErrGone, ErrZombie and ErrNotExist when the file was
// missing.
func (p Proc) fail(what string, err error) error {
	if isNotExist(err) {
		if aerr := p.Alive(); aerr != nil {
			err = aerr
		} else {
			err = ErrNotExist
		}
	}
	return fmt.Errorf("reading %s of process %d: %w", what, p.key.PID, err)
}

// readFile reads one file of the process; see fail for its errors.
func (p Proc) readFile(name string) ([]byte, error) {
	b, err := readFileNoStat(p.path(name))
	if err != nil {
		return nil, p.fail(name, err)
	}
	return b, nil
}

// Stat reads /proc/PID/stat. It fails with ErrGone when the PID names
// another process than the handle's.
func (p Proc) Stat() (Stat, error) {
	st, err := p.readStat()
	if err != nil {
		return Stat{}, p.fail("stat", err)
	}
	if st.StartTime != p.key.StartTime {
		return Stat{}, fmt.Errorf("reading stat of process %d: %w", p.key.PID, ErrGone)
	}
	return st, nil
}

// Status reads /proc/PID/status.
func (p Proc) Status() (Status, error) {
	b, err := p.readFile("status")
	if err != nil {
		return Status{}, err
	}
	s, err := parseStatus(b)
	if err != nil {
		return Status{}, fmt.Errorf("reading status of process %d: %w", p.key.PID, err)
	}
	return s, nil
}

// Cgroup reads /proc/PID/cgroup.
func (p Proc) Cgroup() ([]CgroupLine, error) {
	b, err := p.readFile("cgroup")
	if err != nil {
		return nil, err
	}
	lines, err := parseCgroup(b)
	if err != nil {
		return nil, fmt.Errorf("reading cgroup of process %d: %w", p.key.PID, err)
	}
	return lines, nil
}

// readlink reads a symlink of the process; see fail for its errors.
func (p Proc) readlink(name string) (string, error) {
	t, err := os.Readlink(p.path(name))
	if err != nil {
		return "", p.fail(name, err)
	}
	return t, nil
}

// Exe reads /proc/PID/exe: the executable as the kernel resolved it. See
// ContainerPath for whose view the path is in.
func (p Proc) Exe() (Exe, error) {
	t, err := p.readlink("exe")
	if err != nil {
		return Exe{}, err
	}
	return parseExeLink(t), nil
}

// Root reads /proc/PID/root: the process's root directory. For a process
// of a runc container read from the host it is "/" (see ContainerPath).
func (p Proc) Root() (string, error) {
	return p.readlink("root")
}

// Namespace returns the inode number of one of the process's namespaces
// (kind is "net", "mnt", "pid", "user", "uts", "ipc", "cgroup", "time").
func (p Proc) Namespace(kind string) (uint64, error) {
	t, err := p.readlink(filepath.Join("ns", kind))
	if err != nil {
		return 0, err
	}
	k, ino, err := parseNSLink(t)
	if err != nil {
		return 0, fmt.Errorf("reading %s namespace of process %d: %w", kind, p.key.PID, err)
	}
	if k != kind {
		return 0, fmt.Errorf("reading %s namespace of process %d: link names a %s namespace: %w", kind, p.key.PID, k, ErrParse)
	}
	return ino, nil
}

// NetNS returns the inode number of the process's network namespace.
// Processes with the same NetNS see the same Net.
func (p Proc) NetNS() (uint64, error) { return p.Namespace("net") }

// isNotExist reports the errors that mean "the file or process is not
// there": ENOENT, and ESRCH from reads of a process that just exited.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// readFileNoStat reads a whole file without trusting its size: /proc files
// report 0 or 4096 whatever they hold.
func readFileNoStat(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", name, maxFileSize)
	}
	return b, nil
}

// ExeOf reads /proc/PID/exe without opening the process first: the fast
// path for exec events, where the process may be gone a moment later.
func (f FS) ExeOf(pid int) (Exe, error) {
	p := Proc{fs: f, key: Key{PID: pid}}
	return p.Exe()
}
