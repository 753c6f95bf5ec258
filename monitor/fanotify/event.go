package fanotify

import (
	"time"

	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
)

// Kind is what the process asked for.
type Kind uint8

const (
	// KindOpen is an open of a file or directory (FAN_OPEN_PERM). An exec
	// gives a KindExec event and then a KindOpen one for the same file.
	KindOpen Kind = iota + 1
	// KindExec is an open of a file for execution (FAN_OPEN_EXEC_PERM).
	KindExec
)

func (k Kind) String() string {
	switch k {
	case KindOpen:
		return "open"
	case KindExec:
		return "exec"
	}
	return "unknown"
}

// ExecRole says what an exec'd file is to the exec; see the package
// documentation.
type ExecRole uint8

const (
	// ExecBinary is the program that runs: /proc/<pid>/exe after the exec.
	ExecBinary ExecRole = iota
	// ExecScript is a "#!" script; the kernel opens its interpreter next,
	// which gets its own event.
	ExecScript
	// ExecInterpreter is the ELF interpreter (PT_INTERP) of a binary that
	// the same thread was just allowed to run.
	ExecInterpreter
)

func (r ExecRole) String() string {
	switch r {
	case ExecBinary:
		return "binary"
	case ExecScript:
		return "script"
	case ExecInterpreter:
		return "interpreter"
	}
	return "unknown"
}

// Event is one permission request.
type Event struct {
	Kind Kind
	// Role is set for KindExec.
	Role ExecRole
	// Path is the file as the container sees it, symlinks resolved, without
	// the " (deleted)" suffix; Deleted is set when the file was unlinked.
	Path    string
	Deleted bool
	// TID is the requesting thread, in the host's PID namespace
	// (/proc/<TID> works for any thread). PID is its process (thread
	// group) ID, read only for events that are reported: 0 in Decide.
	PID, TID int
	// Exe is the requester's executable as the host reads it
	// (/proc/<TID>/exe), read before the answer for events that are
	// reported, like PID: a process whose open is denied may exit at once.
	// "" in Decide, or when it could not be read.
	Exe string
	// Write reports an open for writing (access mode other than O_RDONLY,
	// O_TRUNC or O_CREAT), or an open whose flags are unknown. Always false
	// for KindExec.
	Write bool
	// Flags are the requester's open flags, -1 when unknown.
	Flags int
	// Syscall is the number of the syscall the requester is blocked in, -1
	// when unknown.
	Syscall int
	// Dev and Ino identify the file (st_dev, st_ino).
	Dev, Ino uint64
}

// Verdict is the answer to an Event.
type Verdict struct {
	// Allow answers FAN_ALLOW, otherwise FAN_DENY (EPERM).
	Allow bool
	// Violation is the rule the request breaks: the reason for a denial, or
	// an alert for an allowed request (monitor mode, files.watch). Nil when
	// nothing is broken.
	Violation *rules.Violation
	// IgnoresWrite says the verdict of an open is the same whether the open
	// is for writing or not. The guard then caches it for both and, on a
	// cache hit, skips finding out the requester's open flags.
	IgnoresWrite bool
}

// Source says how an event was answered.
type Source uint8

const (
	// SourceDecide: GuardConfig.Decide made the verdict.
	SourceDecide Source = iota + 1
	// SourceCache: a cached verdict of Decide.
	SourceCache
	// SourceTimeout: no verdict within GuardConfig.Timeout, or the decider
	// is still stuck in an earlier call; answered by FailOpen.
	SourceTimeout
	// SourceOverflow: the decision queue was full; answered by FailOpen.
	SourceOverflow
	// SourceError: the event could not be inspected; answered by FailOpen.
	SourceError
)

func (s Source) String() string {
	switch s {
	case SourceDecide:
		return "decided"
	case SourceCache:
		return "cached"
	case SourceTimeout:
		return "timeout"
	case SourceOverflow:
		return "queue full"
	case SourceError:
		return "error"
	}
	return "unknown"
}

// Report is what GuardConfig.Report receives after an answer was written.
type Report struct {
	Event   Event
	Verdict Verdict
	Source  Source
	// Latency is the time from reading the event to writing the answer.
	Latency time.Duration
	// Err says why the guard could not decide (SourceTimeout,
	// SourceOverflow, SourceError).
	Err error
}

// Snapshot is the process snapshot the rules evaluate for an event: the
// executable for an exec of an ExecBinary, one open file otherwise. A
// script or an ELF interpreter is not what /proc/<pid>/exe will show, so it
// yields an empty snapshot: the interpreter is checked in its own event.
func Snapshot(ev Event) rules.ProcessSnapshot {
	snap := rules.ProcessSnapshot{PID: ev.PID}
	switch ev.Kind {
	case KindExec:
		if ev.Role == ExecBinary {
			snap.Exe, snap.ExeDeleted = ev.Path, ev.Deleted
		}
	case KindOpen:
		snap.Fds = []rules.Fd{{Path: ev.Path, Write: ev.Write}}
	}
	return snap
}

// RulesDecider decides events with the same rule implementation as the
// /proc monitor: set.Evaluate on Snapshot(ev). In enforce mode the first
// violation denies; in monitor mode it is reported and allowed; in learn
// mode nothing is denied or reported. A files.watch observation is
// reported and allowed in every mode but learn. For an open it sets
// IgnoresWrite when the verdict for the other access mode is the same.
func RulesDecider(set *rules.Set, mode profiles.Mode) func(Event) Verdict {
	return func(ev Event) Verdict {
		return decide(set, mode, ev)
	}
}

func decide(set *rules.Set, mode profiles.Mode, ev Event) Verdict {
	v := evaluate(set, mode, ev)
	if ev.Kind == KindOpen {
		other := ev
		other.Write = !ev.Write
		w := evaluate(set, mode, other)
		v.IgnoresWrite = w.Allow == v.Allow && (w.Violation == nil) == (v.Violation == nil) &&
			(w.Violation == nil || *w.Violation == *v.Violation)
	}
	return v
}

func evaluate(set *rules.Set, mode profiles.Mode, ev Event) Verdict {
	if mode == profiles.ModeLearn {
		return Verdict{Allow: true}
	}
	var watch *rules.Violation
	for _, v := range set.Evaluate(Snapshot(ev)) {
		if v.Watch {
			if watch == nil {
				watch = &v
			}
			continue
		}
		return Verdict{Allow: mode != profiles.ModeEnforce, Violation: &v}
	}
	return Verdict{Allow: true, Violation: watch}
}
