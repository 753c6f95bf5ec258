// Package alert holds confine's alert records and the sinks that carry them
// (journald, jsonl, stderr). Alerts are not logs: each is a typed record
// with the fields of SPEC section 5.
package alert

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Event kinds (CONFINE_EVENT).
const (
	EventViolation    = "violation"
	EventKill         = "kill"
	EventDenied       = "denied"
	EventLearned      = "learned"
	EventProfileError = "profile_error"
	EventSinkOutage   = "sink_outage"
	// EventEventsLost: events or findings lost to a full queue (one alert
	// per source; confine_events_lost_total counts them all).
	EventEventsLost = "events_lost"
	// EventExecSession: a command of an audited operator exec session
	// (execSessions: audit), or a denied session killed.
	EventExecSession = "exec_session"
	// EventUnprotected: a container runs without a protection layer its
	// profile needs (CONFINE_RULE not_injected or layer_missing).
	EventUnprotected = "unprotected"
)

// Rules (CONFINE_RULE).
const (
	RuleExec      = "exec"
	RuleFile      = "file"
	RuleNetwork   = "network"
	RulePrivilege = "privilege"
	RuleSeccomp   = "seccomp"
	// The privilege rules (privileges.ptrace ...: profiles.PrivilegeRules)
	// name themselves: ptrace, namespaces, rawSockets, setid, kernel.
	// RuleNotInjected: a container under a monitor or enforce profile was
	// not started through confine-runc (no filter, no hooks).
	RuleNotInjected = "not_injected"
	// RuleLayerMissing: a layer (CONFINE_LAYER) could not be applied.
	RuleLayerMissing = "layer_missing"
	// RuleSecret: a credential file of the built-in list was opened
	// (monitor/secrets); reported in every mode, never acted on.
	RuleSecret = "secret"
)

// Layers (CONFINE_LAYER): what saw, refused or should have refused.
const (
	LayerSeccomp  = "seccomp"
	LayerLandlock = "landlock"
	LayerFanotify = "fanotify"
	// LayerSecrets: the secret-read watch (a fanotify notification group
	// per container, monitor/secrets); in every mode.
	LayerSecrets  = "secrets"
	LayerNftables = "nftables"
	LayerEvents   = "events"
	LayerRescan   = "rescan"
)

// Actions (CONFINE_ACTION).
const (
	ActionAlerted = "alerted"
	ActionKilled  = "killed"
	ActionDenied  = "denied"
)

// Priorities (syslog levels, as journald's PRIORITY).
const (
	PriCrit    = 2
	PriErr     = 3
	PriWarning = 4
	PriNotice  = 5
	PriInfo    = 6
)

// Alert is one record.
type Alert struct {
	Time      time.Time
	Event     string
	Priority  int
	Message   string
	Namespace string
	Container string
	Image     string
	Profile   string
	Mode      string
	Rule      string
	Action    string
	PID       int
	Exe       string
	Path      string
	Peer      string
	Syscall   string
	Layer     string
	UID       *int
	// Count is how many identical violations this record stands for (rate
	// limiting); 0 or 1 means one.
	Count int
	// Extra fields, UPPERCASE names without the CONFINE_ prefix.
	Extra map[string]string
}

// Fields returns the alert as journald fields (UPPERCASE, CONFINE_ prefix),
// without MESSAGE and PRIORITY. Empty values are left out.
func (a *Alert) Fields() map[string]string {
	f := map[string]string{
		"SYSLOG_IDENTIFIER": "confined",
		"MESSAGE_ID":        MessageID(a.Event),
	}
	set := func(k, v string) {
		if v != "" {
			f["CONFINE_"+k] = v
		}
	}
	set("EVENT", a.Event)
	set("NAMESPACE", a.Namespace)
	set("CONTAINER_ID", a.Container)
	set("IMAGE", a.Image)
	set("PROFILE", a.Profile)
	set("MODE", a.Mode)
	set("RULE", a.Rule)
	set("ACTION", a.Action)
	if a.PID > 0 {
		set("PID", strconv.Itoa(a.PID))
	}
	set("EXE", a.Exe)
	set("PATH", a.Path)
	set("PEER", a.Peer)
	set("SYSCALL", a.Syscall)
	set("LAYER", a.Layer)
	if a.UID != nil {
		set("UID", strconv.Itoa(*a.UID))
	}
	if a.Count > 1 {
		set("COUNT", strconv.Itoa(a.Count))
	}
	if !a.Time.IsZero() {
		set("TIME", a.Time.UTC().Format(time.RFC3339Nano))
	}
	for k, v := range a.Extra {
		set(strings.ToUpper(k), v)
	}
	return f
}

// JSON returns the alert as the jsonl sink writes it: the same fields
// lower-cased without the CONFINE_ prefix, plus message, priority, time.
func (a *Alert) JSON() map[string]any {
	out := map[string]any{
		"message":  a.Message,
		"priority": a.Priority,
	}
	for k, v := range a.Fields() {
		switch k {
		case "SYSLOG_IDENTIFIER":
			out["syslog_identifier"] = v
		case "MESSAGE_ID":
			out["message_id"] = v
		default:
			out[strings.ToLower(strings.TrimPrefix(k, "CONFINE_"))] = v
		}
	}
	if a.Count > 1 {
		out["count"] = a.Count
	}
	return out
}

// Key identifies "identical" violations for rate limiting.
func (a *Alert) Key() string {
	return strings.Join([]string{a.Event, a.Namespace, a.Container, a.Rule, a.Exe, a.Path, a.Peer, a.Syscall, a.Layer}, "\x00")
}

// String is a one-line human form.
func (a *Alert) String() string {
	keys := make([]string, 0)
	f := a.Fields()
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s", a.Message)
	for _, k := range keys {
		if strings.HasPrefix(k, "CONFINE_") {
			fmt.Fprintf(&b, " %s=%q", strings.ToLower(strings.TrimPrefix(k, "CONFINE_")), f[k])
		}
	}
	return b.String()
}
