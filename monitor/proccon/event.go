package proccon

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Kind says what an Event reports.
type Kind uint8

// Event kinds. All but KindOverflow and KindUnknown are kernel process
// events (PROC_EVENT_*).
const (
	// KindNone is an acknowledgement of a control message; never delivered.
	KindNone Kind = iota
	// KindFork: a process or thread was created (fork, vfork, clone).
	KindFork
	// KindExec: a process called execve(2) successfully.
	KindExec
	// KindUID: a process changed its real or effective uid.
	KindUID
	// KindGID: a process changed its real or effective gid.
	KindGID
	// KindSID: a process called setsid(2).
	KindSID
	// KindPtrace: a process was attached to or detached from a tracer.
	KindPtrace
	// KindComm: a process or thread changed its name (comm).
	KindComm
	// KindCoredump: a process is dumping core.
	KindCoredump
	// KindExit: a thread exited (a process when PID == TGID).
	KindExit
	// KindOverflow is synthetic: the socket's receive queue overflowed
	// (ENOBUFS) and events were lost. Rescan /proc now.
	KindOverflow
	// KindUnknown: an event type this package does not know; Event.What
	// holds the raw type.
	KindUnknown

	kindCount
)

var kindNames = [kindCount]string{
	KindNone:     "none",
	KindFork:     "fork",
	KindExec:     "exec",
	KindUID:      "uid",
	KindGID:      "gid",
	KindSID:      "sid",
	KindPtrace:   "ptrace",
	KindComm:     "comm",
	KindCoredump: "coredump",
	KindExit:     "exit",
	KindOverflow: "overflow",
	KindUnknown:  "unknown",
}

func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// bit is the kernel event-type bit of k, 0 for the synthetic kinds.
func (k Kind) bit() uint32 {
	switch k {
	case KindFork:
		return evFork
	case KindExec:
		return evExec
	case KindUID:
		return evUID
	case KindGID:
		return evGID
	case KindSID:
		return evSID
	case KindPtrace:
		return evPtrace
	case KindComm:
		return evComm
	case KindCoredump:
		return evCoredump
	case KindExit:
		return evExit
	}
	return 0
}

// kindOf maps a proc_event.what value to a Kind.
func kindOf(what uint32) Kind {
	switch what {
	case evNone:
		return KindNone
	case evFork:
		return KindFork
	case evExec:
		return KindExec
	case evUID:
		return KindUID
	case evGID:
		return KindGID
	case evSID:
		return KindSID
	case evPtrace:
		return KindPtrace
	case evComm:
		return KindComm
	case evCoredump:
		return KindCoredump
	case evExit:
		return KindExit
	}
	return KindUnknown
}

// DefaultKinds are the kinds Listen asks for unless WithKinds says
// otherwise: what a process monitor needs to follow lineage, executables and
// identity changes.
var DefaultKinds = []Kind{KindFork, KindExec, KindUID, KindGID, KindExit}

// Event is one process event. PIDs are in the initial PID namespace (the
// kernel reports them so). PID is the thread id and TGID the process id, as
// user space sees them; only events with PID == TGID concern a whole
// process, but thread events are reported too.
type Event struct {
	Kind Kind
	// CPU is the CPU the event was generated on.
	CPU uint32
	// Timestamp is the kernel's CLOCK_MONOTONIC time of the event
	// (ktime_get_ns: since boot, not counting suspend). For KindOverflow it
	// is the time the overflow was noticed.
	Timestamp time.Duration

	// PID and TGID identify the process the event is about: for KindFork
	// the new child, for every other kind the process itself.
	PID, TGID int
	// ParentPID and ParentTGID: for KindFork the thread that forked, for
	// KindExit and KindCoredump the parent (zero before Linux 4.19).
	ParentPID, ParentTGID int

	// RealID and EffectiveID are the new uids (KindUID) or gids (KindGID).
	RealID, EffectiveID uint32
	// ExitCode is the raw wait status of a KindExit (see WaitStatus);
	// ExitSignal the signal sent to the parent (normally SIGCHLD, 0 for
	// threads).
	ExitCode, ExitSignal uint32
	// TracerPID and TracerTGID: KindPtrace; zero on detach.
	TracerPID, TracerTGID int
	// Comm is the new name of a KindComm.
	Comm string
	// What is the raw proc_event.what of a KindUnknown.
	What uint32
}

// Leader reports whether the event concerns a thread-group leader, i.e. a
// whole process rather than one of its other threads.
func (e Event) Leader() bool { return e.PID == e.TGID }

// WaitStatus decodes ExitCode (exit status, or the terminating signal) of a
// KindExit.
func (e Event) WaitStatus() unix.WaitStatus { return unix.WaitStatus(e.ExitCode) }

func (e Event) String() string {
	switch e.Kind {
	case KindFork:
		return fmt.Sprintf("fork parent=%d/%d child=%d/%d", e.ParentPID, e.ParentTGID, e.PID, e.TGID)
	case KindExit:
		return fmt.Sprintf("exit pid=%d/%d code=%#x", e.PID, e.TGID, e.ExitCode)
	case KindUID, KindGID:
		return fmt.Sprintf("%s pid=%d/%d real=%d effective=%d", e.Kind, e.PID, e.TGID, e.RealID, e.EffectiveID)
	case KindOverflow:
		return "overflow"
	case KindUnknown:
		return fmt.Sprintf("unknown(%#x) pid=%d/%d", e.What, e.PID, e.TGID)
	}
	return fmt.Sprintf("%s pid=%d/%d", e.Kind, e.PID, e.TGID)
}
