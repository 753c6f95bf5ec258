package hooks

import "github.com/confinehq/confine/hooks/hookrun"

// confine-hook's logic lives in hooks/hookrun, which imports only what a
// process on the container start path needs; these names stay for callers.
const MaxStateBytes = hookrun.MaxStateBytes

// ReadState reads the OCI state a hook gets on stdin (hookrun.ReadState).
var ReadState = hookrun.ReadState

// ErrBadState marks an invalid hook state (hookrun.ErrBadState).
var ErrBadState = hookrun.ErrBadState
