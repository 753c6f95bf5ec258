package bpfevents

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kind says what an Event reports.
type Kind uint8

// Event kinds. The numbers of the kernel kinds are those of the BPF
// program's enum event_kind.
const (
	// KindExec: a process called execve(2) successfully.
	KindExec Kind = 1
	// KindFork: a new process (not a thread) was created.
	KindFork Kind = 2
	// KindExit: a process's thread-group leader exited.
	KindExit Kind = 3
	// KindUID: a process changed its uids (setuid, setreuid, setresuid).
	KindUID Kind = 4
	// KindGID: a process changed its gids (setgid, setregid, setresgid).
	KindGID Kind = 5
	// KindLost is synthetic: the ring buffer was full and Lost events were
	// dropped in the kernel. Rescan /proc now.
	KindLost Kind = 100
)

func (k Kind) String() string {
	switch k {
	case KindExec:
		return "exec"
	case KindFork:
		return "fork"
	case KindExit:
		return "exit"
	case KindUID:
		return "uid"
	case KindGID:
		return "gid"
	case KindLost:
		return "lost"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Event is one process event of a watched cgroup. PIDs are in the initial
// PID namespace.
type Event struct {
	Kind Kind
	// Timestamp is CLOCK_MONOTONIC at the tracepoint, as the proc
	// connector's (for KindLost, when the loss was noticed).
	Timestamp time.Duration
	// CgroupID is the inode of the process's cgroup in the unified (v2)
	// hierarchy: the watched cgroup the event passed the filter with.
	CgroupID uint64
	// TGID is the process, PID the thread that caused the event.
	TGID, PID int
	// ParentTGID is, for KindFork, the process that forked; Child is the new
	// process. OldPID is, for KindExec, the thread id before exec (differs
	// from TGID when a non-leader thread exec'd).
	ParentTGID, Child, OldPID int
	// UID and GID are the real ids; EUID and EGID the effective ones, read
	// only when Full (else equal to the real ones).
	UID, GID, EUID, EGID uint32
	// SUID and FSUID are the saved and filesystem uids, CapEff the
	// effective capabilities, read only when Full (else the real uid and
	// 0).
	SUID, FSUID uint32
	CapEff      uint64
	// Full says StartTime, EUID/EGID and the executable were read from the
	// task (the kernel has BTF). Without it they are zero or copies.
	Full bool
	// StartTime is the process's start, CLOCK_BOOTTIME (what /proc/PID/stat
	// field 22 counts in ticks). Zero for KindFork and when not Full.
	StartTime time.Duration
	// ExeDev and ExeIno identify the executable (st_dev encoding as in
	// stat(2)); zero when unknown.
	ExeDev, ExeIno uint64
	// Filename is the path as passed to execve (KindExec): relative paths
	// stay relative, symlinks unresolved.
	Filename string
	// GroupDead is set on a KindExit that ended the last thread.
	GroupDead bool
	// Lost is the number of events dropped, for KindLost.
	Lost uint64
}

// Leader reports whether the event's thread is the thread-group leader.
func (e Event) Leader() bool { return e.PID == e.TGID }

func (e Event) String() string {
	switch e.Kind {
	case KindExec:
		return fmt.Sprintf("exec pid=%d/%d cgroup=%d file=%q", e.PID, e.TGID, e.CgroupID, e.Filename)
	case KindFork:
		return fmt.Sprintf("fork parent=%d child=%d cgroup=%d", e.ParentTGID, e.Child, e.CgroupID)
	case KindLost:
		return fmt.Sprintf("lost %d", e.Lost)
	}
	return fmt.Sprintf("%s pid=%d/%d cgroup=%d", e.Kind, e.PID, e.TGID, e.CgroupID)
}

const (
	flagFull      = 1
	flagGroupDead = 2
)

// recordSize is the size of one ring-buffer record (struct event).
var recordSize = int(unsafe.Sizeof(eventsEvent{}))

// errShortRecord is returned for a ring-buffer record too short to hold an
// event.
var errShortRecord = errors.New("short event record")

// parseRecord decodes one ring-buffer record (struct event, host byte
// order). It never panics on bad input.
func parseRecord(b []byte) (Event, error) {
	var r eventsEvent
	if len(b) < recordSize {
		return Event{}, fmt.Errorf("%w: %d bytes, want %d", errShortRecord, len(b), recordSize)
	}
	if err := binary.Read(bytes.NewReader(b[:recordSize]), binary.NativeEndian, &r); err != nil {
		return Event{}, fmt.Errorf("decoding event record: %w", err)
	}
	e := Event{
		Kind:      Kind(r.Kind),
		Timestamp: time.Duration(r.Timestamp),
		CgroupID:  r.CgroupId,
		TGID:      int(r.Tgid),
		PID:       int(r.Pid),
		UID:       r.Uid, GID: r.Gid, EUID: r.Euid, EGID: r.Egid,
		SUID: r.Suid, FSUID: r.Fsuid, CapEff: r.CapEff,
		Full:      r.Flags&flagFull != 0,
		StartTime: time.Duration(r.StartBoottime),
		ExeIno:    r.ExeIno,
		GroupDead: r.Flags&flagGroupDead != 0,
	}
	if r.ExeIno != 0 {
		e.ExeDev = userDev(r.ExeDev)
	}
	switch e.Kind {
	case KindExec:
		e.OldPID = int(r.Ppid)
		n := int(r.FilenameLen)
		if n > len(r.Filename) {
			n = len(r.Filename)
		}
		name := make([]byte, 0, n)
		for _, c := range r.Filename[:n] {
			if c == 0 {
				break
			}
			name = append(name, byte(c))
		}
		e.Filename = string(name)
	case KindFork:
		e.ParentTGID, e.Child = int(r.Ppid), int(r.Child)
	case KindExit, KindUID, KindGID:
	default:
		return Event{}, fmt.Errorf("event record of unknown kind %d", r.Kind)
	}
	return e, nil
}

// userDev turns the kernel's internal dev_t (MAJOR<<20 | MINOR) into the
// encoding stat(2) reports.
func userDev(kdev uint32) uint64 {
	return unix.Mkdev(kdev>>20, kdev&(1<<20-1))
}
