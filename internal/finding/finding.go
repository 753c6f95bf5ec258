// Package finding is the one record every source of confine hands to the
// enforcer: a process of a watched container broke a rule of its profile
// (or tried to, and the kernel refused it), or an operator's exec session
// ran a command.
//
//	kernel / containerd event → container → process → Finding → enforcer → kill / alert
//
// A source (process events, /proc rescans, fanotify, the seccomp notify
// listener, NFLOG, audit records) attributes what it saw to a container
// and a process and hands a Finding over without blocking. The enforcer
// alone decides what happens: by the container's mode and the profile's
// onViolation and execSessions, an alert (identical ones aggregated), a
// kill of the whole container or of one exec session, or nothing (already
// killed, already reported for that process).
package finding

import "strings"

// Source names where a finding came from (the label of
// confine_events_lost_total when the hand-off is full).
type Source string

// The sources confined has.
const (
	SourceBPF           Source = "bpf"            // BPF tracepoint process events
	SourceProcConnector Source = "proc_connector" // netlink proc connector events
	SourceRescan        Source = "rescan"         // /proc rescans and per-container scans
	SourceFanotify      Source = "fanotify"       // fanotify permission events (the guard)
	SourceSeccomp       Source = "seccomp"        // the seccomp notify listener
	SourceNFLOG         Source = "nflog"          // nftables NFLOG records
	SourceAudit         Source = "audit"          // kernel audit records (Landlock denials)
)

// Process is the process a finding is about. PID and StartTime together
// identify it across PID reuse (StartTime 0: not known, and the finding
// is not deduplicated by process).
type Process struct {
	PID       int
	StartTime uint64 // clock ticks since boot, /proc/PID/stat field 22
	Exe       string // "" when the source did not read it
	UID       uint32
}

// Session is the operator exec session (`runc exec`) a process belongs
// to, as the source knew it: Root is the session's first process.
type Session struct {
	Root  int
	Start uint64
}

// Finding is one rule broken (or refused) in one container, or one
// command an exec session ran.
type Finding struct {
	Source Source
	// Container is the container's registry key: namespace/id, with
	// @root when runc's --root is part of its identity.
	Container string
	// Process is nil when the source does not know it (an NFLOG record).
	Process *Process
	// Rule is the profile section (alert.Rule*: exec, file, network,
	// seccomp, or a privilege rule); Subject what it was about (a path, a
	// peer, a port, a syscall name); Evidence says what was seen, in words.
	Rule, Subject, Evidence string
	// Layer names the layer that saw or refused it when that is not the
	// process monitor itself (CONFINE_LAYER: landlock, fanotify).
	Layer string
	// Watch: a files.watch hit, an alert in every mode, never a kill.
	Watch bool
	// KernelRefused: the kernel already refused it (fanotify FAN_DENY, a
	// seccomp EPERM, an nftables reject, a Landlock denial).
	KernelRefused bool
	// Command: not a violation but a command the process ran, for the
	// exec-session policy (reported under audit, the session killed under
	// deny); the workload's commands are nothing to act on.
	Command bool
	// Session: the exec session the source already knows the process
	// belongs to (the seccomp filter runc loads for `runc exec`); nil: the
	// enforcer finds it from the process's parents when the policy needs it.
	Session *Session
}

// Detail is the evidence with the subject, as alerts say it.
func (f Finding) Detail() string {
	if f.Subject == "" || strings.Contains(f.Evidence, f.Subject) {
		return f.Evidence
	}
	return f.Evidence + ": " + f.Subject
}
