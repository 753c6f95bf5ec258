package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
)

// Container IDs and namespaces as containerd accepts them.
var (
	idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$`)
	nsRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,75})$`)
)

// ValidID reports whether id is a container ID containerd would accept.
func ValidID(id string) bool { return idRe.MatchString(id) }

// ValidNamespace reports whether ns is a containerd namespace name.
func ValidNamespace(ns string) bool { return nsRe.MatchString(ns) }

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

// Validate checks a decide request.
func (r DecideRequest) Validate() error {
	if !ValidNamespace(r.Namespace) {
		return fmt.Errorf("decide request: field namespace: invalid namespace %q", r.Namespace)
	}
	if !ValidID(r.ID) {
		return fmt.Errorf("decide request: field id: invalid container id %q", r.ID)
	}
	if r.Bundle != "" && !filepath.IsAbs(r.Bundle) {
		return fmt.Errorf("decide request: field bundle: %q is not an absolute path", r.Bundle)
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
