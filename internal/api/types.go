// Package api is confined's local API: HTTP/1.1 with JSON bodies over a
// root-only unix socket (run_dir/api.sock). confine-runc, confine-hook and
// confinectl are its clients. Every request body is bounded and strictly
// decoded; every peer is checked with SO_PEERCRED.
package api

import (
	"time"

	"github.com/confinehq/confine/internal/api/wire"
	"github.com/confinehq/confine/profiles"
)

// SocketName is the API socket's file name inside run_dir.
const SocketName = wire.SocketName

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = wire.MaxBodyBytes

// Paths of the API.
const (
	PathDecide     = wire.PathDecide
	PathPrepare    = wire.PathPrepare
	PathHook       = wire.PathHook
	PathStatus     = wire.PathStatus
	PathContainers = wire.PathContainers
	PathReload     = wire.PathReload
	PathProfiles   = wire.PathProfiles
)

// Hook stages confine-hook reports.
const (
	StageCreateRuntime = wire.StageCreateRuntime
	StagePoststop      = wire.StagePoststop
)

// DecideRequest asks which profile a container about to be created gets.
type DecideRequest struct {
	Namespace   string            `json:"namespace"`
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Decision is confined's answer to DecideRequest.
type Decision struct {
	// Profile is the selected profile with the container's mode override
	// already applied to Profile.Mode.
	Profile *profiles.Profile `json:"profile"`
	// Digest identifies the profile version (sha256 of its canonical form).
	Digest string `json:"digest"`
	// ListenerPath, when set, is the seccomp notify listener socket that
	// confined is accepting on for this container (learn mode and enforce
	// alerts). confine-runc only injects it when set.
	ListenerPath string `json:"listenerPath,omitempty"`
	// Reason says how the profile was selected (label, selector, default).
	Reason string `json:"reason,omitempty"`
}

// HookRequest is what confine-hook sends at each stage.
type HookRequest = wire.HookRequest

// State is the OCI runtime state as hooks receive it.
type State = wire.State

// Status is the daemon's health.
type Status struct {
	Version             string         `json:"version"`
	StartedAt           time.Time      `json:"startedAt"`
	ContainerdAddress   string         `json:"containerdAddress"`
	ContainerdConnected bool           `json:"containerdConnected"`
	ContainerdVersion   string         `json:"containerdVersion,omitempty"`
	Containers          int            `json:"containers"`
	ContainersByMode    map[string]int `json:"containersByMode,omitempty"`
	Processes           int            `json:"processes"`
	Profiles            int            `json:"profiles"`
	ProfileErrors       []string       `json:"profileErrors,omitempty"`
	Violations          int            `json:"violations"`
	Kills               int            `json:"kills"`
	// ProcessEvents is the process event source in use: "bpf",
	// "proc_connector" or "none" (rescans only).
	ProcessEvents string `json:"processEvents,omitempty"`
	// ProfileSources are the OCI registries profiles are pulled from.
	ProfileSources []ProfileSource `json:"profileSources,omitempty"`
	// Events is how confined learns of new processes: "proc connector",
	// or "rescans" (every rescan_interval) with EventsReason saying why.
	Events       string `json:"events,omitempty"`
	EventsReason string `json:"eventsReason,omitempty"`
	// Unprotected lists "namespace/id: what is missing" for every
	// container that lacks a layer its profile needs (not injected, a
	// layer that could not be applied).
	Unprotected []string `json:"unprotected,omitempty"`
}

// ProfileSource is one entry of profile_sources: what is in force from it
// and how its last poll went.
type ProfileSource struct {
	Source      string    `json:"source"`
	Profile     string    `json:"profile,omitempty"`
	Digest      string    `json:"digest,omitempty"` // manifest digest in force ("" = nothing pulled yet)
	Signed      bool      `json:"signed"`
	LastPoll    time.Time `json:"lastPoll,omitempty"`
	LastSuccess time.Time `json:"lastSuccess,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
}

// Layer is one protection or observation layer of a container, in force
// or missing (SPEC section 8): seccomp, landlock, fanotify, nftables,
// events. Layers a profile does not need are not listed.
type Layer struct {
	Name    string `json:"name"`
	InForce bool   `json:"inForce"`
	// Detail qualifies a layer in force ("ABI 7", "proc connector").
	Detail string `json:"detail,omitempty"`
	// Reason says why a missing layer is missing.
	Reason string `json:"reason,omitempty"`
}

// Container is one watched container as confinectl ps shows it.
type Container struct {
	Namespace  string    `json:"namespace"`
	ID         string    `json:"id"`
	Root       string    `json:"root,omitempty"` // runc's --root, when the namespace does not say it (runc run by hand)
	Name       string    `json:"name,omitempty"`
	Image      string    `json:"image,omitempty"`
	Profile    string    `json:"profile"`
	Mode       string    `json:"mode"`
	Digest     string    `json:"digest,omitempty"`
	Pid        int       `json:"pid,omitempty"`
	Processes  int       `json:"processes"`
	Violations int       `json:"violations"`
	Injected   bool      `json:"injected"` // started through confine-runc (seccomp filter and hooks in its spec)
	Source     string    `json:"source"`   // hook | event | resync
	Status     string    `json:"status"`
	KillReason string    `json:"killReason,omitempty"`
	Since      time.Time `json:"since"`
	Notes      []string  `json:"notes,omitempty"`
	// CapsHeld are the effective capabilities of the container's init
	// (/proc status CapEff); CapsUsed the ones its processes exercised,
	// as the bpf capability recorder saw them (absent without one).
	CapsHeld []string `json:"capsHeld,omitempty"`
	CapsUsed []string `json:"capsUsed,omitempty"`
	// CapsRecorded says CapsUsed is complete: the recorder watched the
	// container from before its user code ran (it may be empty).
	CapsRecorded bool `json:"capsRecorded,omitempty"`
	// CapsNote says why CapsUsed is absent or partial.
	CapsNote string  `json:"capsNote,omitempty"`
	Layers   []Layer `json:"layers,omitempty"`
}

// Error is the body of every non-2xx answer.
type Error = wire.Error
