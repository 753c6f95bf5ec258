package proc

import (
	"bytes"
	"fmt"
	"strconv"
)

// Stat is the part of /proc/PID/stat confine uses.
type Stat struct {
	PID int
	// Comm is the command name (at most 15 bytes, may hold spaces and
	// parentheses).
	Comm string
	// State is one of R S D Z T t X I ... (see proc(5)).
	State byte
	PPID  int
	// Flags are the kernel's PF_* flags.
	Flags uint64
	// NumThreads counts the threads of the process.
	NumThreads int
	// StartTime is when the process started, in clock ticks after boot.
	StartTime uint64
}

// pfKthread is PF_KTHREAD from include/linux/sched.h.
const pfKthread = 0x00200000

// Key returns the process's identity.
func (s Stat) Key() Key { return Key{PID: s.PID, StartTime: s.StartTime} }

// KernelThread reports a kernel thread (no executable, no user memory).
func (s Stat) KernelThread() bool { return s.Flags&pfKthread != 0 }

// Zombie reports a process that has exited and is not reaped yet.
func (s Stat) Zombie() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }

// parseStat parses /proc/PID/stat: "pid (comm) state ppid ...". comm can
// contain anything, including ") ", so it ends at the last ')'.
func parseStat(b []byte) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 1 || closing < open {
		return Stat{}, fmt.Errorf("stat: no (comm): %w", ErrParse)
	}
	var s Stat
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid < 0 {
		return Stat{}, fmt.Errorf("stat: bad pid %q: %w", b[:open], ErrParse)
	}
	s.PID = pid
	s.Comm = string(b[open+1 : closing])
	// Fields after the comm, numbered from 3 (state) as in proc(5).
	f := bytes.Fields(b[closing+1:])
	const (
		fState     = 3
		fPPID      = 4
		fFlags     = 9
		fThreads   = 20
		fStartTime = 22
	)
	field := func(n int) ([]byte, error) {
		if n-fState >= len(f) {
			return nil, fmt.Errorf("stat: %d fields, want at least %d: %w", len(f)+2, fStartTime, ErrParse)
		}
		return f[n-fState], nil
	}
	st, err := field(fState)
	if err != nil {
		return Stat{}, err
	}
	if len(st) != 1 {
		return Stat{}, fmt.Errorf("stat: bad state %q: %w", st, ErrParse)
	}
	s.State = st[0]
	nums := []struct {
		n    int
		name string
		dst  func(uint64)
	}{
		{fPPID, "ppid", func(v uint64) { s.PPID = int(v) }},
		{fFlags, "flags", func(v uint64) { s.Flags = v }},
		{fThreads, "num_threads", func(v uint64) { s.NumThreads = int(v) }},
		{fStartTime, "starttime", func(v uint64) { s.StartTime = v }},
	}
	for _, n := range nums {
		raw, err := field(n.n)
		if err != nil {
			return Stat{}, err
		}
		v, err := strconv.ParseUint(string(raw), 10, 64)
		if err != nil || (n.n != fFlags && n.n != fStartTime && v > 1<<31) {
			return Stat{}, fmt.Errorf("stat: bad %s %q: %w", n.name, raw, ErrParse)
		}
		n.dst(v)
	}
	return s, nil
}
