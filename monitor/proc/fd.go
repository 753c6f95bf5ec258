package proc

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Open flags as fdinfo prints them (octal, from include/uapi/asm-generic/fcntl.h).
const (
	oAccMode = 0o3
	oWronly  = 0o1
	oRdwr    = 0o2
	oPath    = 0o10000000
)

// Access is how a file descriptor was opened.
type Access uint8

const (
	// AccessUnknown: no fdinfo was read (not a path target).
	AccessUnknown Access = iota
	AccessRead
	AccessWrite
	AccessReadWrite
	// AccessPath: O_PATH, neither readable nor writable.
	AccessPath
)

func (a Access) String() string {
	return [...]string{"unknown", "read", "write", "read-write", "path"}[a]
}

// Fd is one open file descriptor of a process.
type Fd struct {
	Num int
	// Target is the /proc/PID/fd/N link: "/etc/passwd", "/tmp/x (deleted)",
	// "pipe:[123]", "socket:[456]", "anon_inode:[eventfd]", ...
	Target string
	// Flags are the open flags from /proc/PID/fdinfo/N; read only for
	// targets that are paths (Target starts with "/").
	Flags uint32
	// MntID is the mount the file is on (fdinfo mnt_id), for paths.
	MntID int
	// Info says whether Flags and MntID were read.
	Info bool
}

// IsPath reports a descriptor of a file system object (Target is a path,
// possibly with " (deleted)"), as opposed to pipes, sockets, anon inodes.
func (f Fd) IsPath() bool { return strings.HasPrefix(f.Target, "/") }

// Path returns the file's path without the " (deleted)" suffix, and
// whether the file was unlinked. It returns "" for non-path targets.
func (f Fd) Path() (path string, deleted bool) {
	if !f.IsPath() {
		return "", false
	}
	if p, ok := strings.CutSuffix(f.Target, deletedSuffix); ok {
		return p, true
	}
	return f.Target, false
}

// Memfd reports a memfd_create file ("/memfd:NAME (deleted)").
func (f Fd) Memfd() bool { return strings.HasPrefix(f.Target, memfdPrefix) }

// Access returns how the descriptor was opened.
func (f Fd) Access() Access {
	if !f.Info {
		return AccessUnknown
	}
	if f.Flags&oPath != 0 {
		return AccessPath
	}
	switch f.Flags & oAccMode {
	case oWronly:
		return AccessWrite
	case oRdwr:
		return AccessReadWrite
	}
	return AccessRead
}

// Writable reports a descriptor opened for writing (O_WRONLY or O_RDWR).
func (f Fd) Writable() bool {
	a := f.Access()
	return a == AccessWrite || a == AccessReadWrite
}

// SocketInode returns the inode of a "socket:[N]" target, which is the
// inode column of /proc/PID/net/*.
func (f Fd) SocketInode() (uint64, bool) {
	s, ok := strings.CutPrefix(f.Target, "socket:[")
	if !ok || !strings.HasSuffix(s, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
	return n, err == nil
}

// fdInfo is the part of /proc/PID/fdinfo/N confine uses.
type fdInfo struct {
	Pos   int64
	Flags uint32
	MntID int
}

// parseFdinfo parses /proc/PID/fdinfo/N ("pos:\t0\nflags:\t0100000\n...").
// flags is octal. Lines after the first three vary by file type and are
// ignored.
func parseFdinfo(b []byte) (fdInfo, error) {
	var fi fdInfo
	var haveFlags bool
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		val := string(bytes.TrimSpace(v))
		switch string(k) {
		case "pos":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return fdInfo{}, fmt.Errorf("fdinfo: bad pos %q: %w", val, ErrParse)
			}
			fi.Pos = n
		case "flags":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return fdInfo{}, fmt.Errorf("fdinfo: bad flags %q: %w", val, ErrParse)
			}
			fi.Flags, haveFlags = uint32(n), true
		case "mnt_id":
			n, err := strconv.Atoi(val)
			if err != nil {
				return fdInfo{}, fmt.Errorf("fdinfo: bad mnt_id %q: %w", val, ErrParse)
			}
			fi.MntID = n
		}
	}
	if !haveFlags {
		return fdInfo{}, fmt.Errorf("fdinfo: no flags line: %w", ErrParse)
	}
	return fi, nil
}

// Fds lists the process's open file descriptors in numeric order, each
// with its link target and, for path targets, its open flags. Descriptors
// closed while being listed are left out. A zombie has none (ErrZombie).
func (p Proc) Fds() ([]Fd, error) {
	d, err := os.Open(p.path("fd"))
	if err != nil {
		return nil, p.fail("fd", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, p.fail("fd", err)
	}
	if len(names) == 0 {
		// A zombie's fd directory is empty; tell it from "no fds".
		if aerr := p.Alive(); aerr != nil {
			return nil, fmt.Errorf("reading fd of process %d: %w", p.key.PID, aerr)
		}
	}
	fds := make([]Fd, 0, len(names))
	for _, name := range names {
		n, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		t, err := os.Readlink(p.path("fd", name))
		if err != nil {
			if isNotExist(err) {
				continue // closed meanwhile
			}
			return nil, p.fail("fd/"+name, err)
		}
		fd := Fd{Num: n, Target: t}
		if fd.IsPath() {
			b, err := readFileNoStat(p.path("fdinfo", name))
			switch {
			case err == nil:
				fi, perr := parseFdinfo(b)
				if perr != nil {
					return nil, fmt.Errorf("reading fdinfo/%s of process %d: %w", name, p.key.PID, perr)
				}
				fd.Flags, fd.MntID, fd.Info = fi.Flags, fi.MntID, true
			case isNotExist(err):
				continue // closed meanwhile
			default:
				return nil, p.fail("fdinfo/"+name, err)
			}
		}
		fds = append(fds, fd)
	}
	if len(fds) == 0 && len(names) > 0 {
		// Every descriptor vanished: the process may have exited.
		if aerr := p.Alive(); aerr != nil {
			return nil, fmt.Errorf("reading fd of process %d: %w", p.key.PID, aerr)
		}
	}
	sort.Slice(fds, func(i, j int) bool { return fds[i].Num < fds[j].Num })
	return fds, nil
}
