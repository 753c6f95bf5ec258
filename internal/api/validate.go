package api

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/confinehq/confine/internal/api/wire"
)

// ValidID reports whether id is a container ID containerd would accept.
func ValidID(id string) bool { return wire.ValidID(id) }

// ValidNamespace reports whether ns is a containerd namespace name.
func ValidNamespace(ns string) bool { return wire.ValidNamespace(ns) }

// DecodeStrict decodes exactly one JSON value from r: unknown fields and
// trailing data are errors.
func DecodeStrict(r io.Reader, v any) error { return wire.DecodeStrict(r, v) }

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
