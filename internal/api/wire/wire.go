// Package wire is the part of confined's API that the processes on a
// container's start path need (confine-runc, confine-hook): the paths, the
// hook and prepare messages, their validation, and a small client. It
// imports no HTTP stack, no profiles and no seccomp, so that those
// binaries start fast (see bench/RESULTS.md, "Container start, stage by
// stage"). Package api re-exports these names.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// SocketName is the API socket's file name inside run_dir.
const SocketName = "api.sock"

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Paths of the API.
const (
	PathDecide     = "/v1/decide"
	PathPrepare    = "/v1/prepare"
	PathHook       = "/v1/hook"
	PathStatus     = "/v1/status"
	PathContainers = "/v1/containers"
	PathReload     = "/v1/reload"
	PathProfiles   = "/v1/profiles"
)

// Hook stages confine-hook reports.
const (
	StageCreateRuntime = "createRuntime"
	StagePoststop      = "poststop"
)

// ErrUnreachable wraps every failure to reach confined (no socket, refused,
// timed out before an answer), so callers can apply fail_mode.
var ErrUnreachable = errors.New("confined is not reachable")

// HookRequest is what confine-hook sends at each stage.
type HookRequest struct {
	Stage string `json:"stage"`
	// State is the OCI state JSON that runc gave the hook on stdin.
	State State `json:"state"`
}

// State is the OCI runtime state as hooks receive it.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid,omitempty"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}

// ValidID reports whether id is a container ID containerd would accept:
// ^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$. Checked by hand: the two regular
// expressions compiled at package init took 4–16 ms of every confine-runc
// and confine-hook start (GODEBUG=inittrace=1; {0,127} unrolls).
func ValidID(id string) bool { return validName(id, 128, "_.+-") }

// ValidNamespace reports whether ns is a containerd namespace name:
// ^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}$.
func ValidNamespace(ns string) bool { return validName(ns, 76, "_.-") }

// validName: 1 to max bytes, an ASCII letter or digit first, then letters,
// digits or bytes of extra.
func validName(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// DecodeStrict decodes exactly one JSON value from r: unknown fields and
// trailing data are errors.
func DecodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// Validate checks the OCI state a hook received.
func (s State) Validate(stage string) error {
	if !ValidID(s.ID) {
		return fmt.Errorf("hook state: field id: invalid container id %q", s.ID)
	}
	if s.Bundle == "" || !filepath.IsAbs(s.Bundle) {
		return fmt.Errorf("hook state: field bundle: %q is not an absolute path", s.Bundle)
	}
	if stage == StageCreateRuntime && s.Pid <= 0 {
		return fmt.Errorf("hook state: field pid: %d is not a process id (createRuntime needs the init pid)", s.Pid)
	}
	if s.Pid < 0 {
		return fmt.Errorf("hook state: field pid: negative pid %d", s.Pid)
	}
	return nil
}

// Validate checks a hook request.
func (r HookRequest) Validate() error {
	switch r.Stage {
	case StageCreateRuntime, StagePoststop:
	default:
		return fmt.Errorf("hook request: field stage: unknown stage %q (want %s or %s)", r.Stage, StageCreateRuntime, StagePoststop)
	}
	return r.State.Validate(r.Stage)
}

// Outcomes of a prepare request.
const (
	// OutcomePrepared: the private copy is written; bind Target onto
	// Placeholder when one is named, mount Copy over Target and exec runc.
	OutcomePrepared = "prepared"
	// OutcomePassThrough: runc refuses this command line by itself; exec
	// it untouched.
	OutcomePassThrough = "pass-through"
	// OutcomeRefused: the container must not be created; Error says why.
	OutcomeRefused = "refused"
	// OutcomeFallback: confined does not prepare this one (another
	// configuration file, a command line it does not handle); confine-runc
	// does the whole work itself.
	OutcomeFallback = "fallback"
)

// PrepareRequest asks confined to do confine-runc's work for a create (run,
// restore): decide, render the private copy of config.json. It carries
// what confined cannot see from its side.
type PrepareRequest struct {
	// Argv is runc's command line as confine-runc got it, without argv[0].
	Argv []string `json:"argv"`
	// Cwd is confine-runc's working directory (the bundle unless --bundle).
	Cwd string `json:"cwd"`
	// Executable is confine-runc's own binary: confine-hook and
	// confine-init are looked for next to it.
	Executable string `json:"executable"`
	// ConfigPath is the configuration file confine-runc loaded ("" for
	// the built-in defaults); confined prepares only when it is its own.
	ConfigPath string `json:"configPath"`
}

// LogEntry is one message for runc's log.
type LogEntry struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
}

// PrepareAnswer is confined's answer to PrepareRequest.
type PrepareAnswer struct {
	Outcome string `json:"outcome"`
	Copy    string `json:"copy,omitempty"`
	Target  string `json:"target,omitempty"`
	// Placeholder, when set, is where Target's own file is bound before
	// the copy covers it: mounts that named it point there.
	Placeholder string     `json:"placeholder,omitempty"`
	Error       string     `json:"error,omitempty"`
	Logs        []LogEntry `json:"logs,omitempty"`
}

// MaxArgs bounds PrepareRequest.Argv.
const MaxArgs = 4096

// Validate checks a prepare request.
func (r PrepareRequest) Validate() error {
	if len(r.Argv) == 0 || len(r.Argv) > MaxArgs {
		return fmt.Errorf("prepare request: field argv: %d arguments (want 1 to %d)", len(r.Argv), MaxArgs)
	}
	if !filepath.IsAbs(r.Cwd) {
		return fmt.Errorf("prepare request: field cwd: %q is not an absolute path", r.Cwd)
	}
	if !filepath.IsAbs(r.Executable) {
		return fmt.Errorf("prepare request: field executable: %q is not an absolute path", r.Executable)
	}
	if r.ConfigPath != "" && !filepath.IsAbs(r.ConfigPath) {
		return fmt.Errorf("prepare request: field configPath: %q is not an absolute path", r.ConfigPath)
	}
	return nil
}
