package hookrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/confinehq/confine/internal/api/wire"
	"github.com/confinehq/confine/internal/config"
)

// HookTimeout bounds confine-hook's request to confined.
const HookTimeout = 2 * time.Second

// ErrHookUsage marks a confine-hook command line that names no stage.
var ErrHookUsage = errors.New("usage: confine-hook createRuntime|poststop (OCI state JSON on stdin)")

// HookClient is the part of wire.Client the hook uses.
type HookClient interface {
	Hook(ctx context.Context, req wire.HookRequest) error
}

// HookRun is one run of confine-hook.
type HookRun struct {
	// Stage is argv[1]: createRuntime or poststop.
	Stage string
	// Stdin carries the OCI state from runc.
	Stdin io.Reader
	// Client reaches confined.
	Client HookClient
	// FailMode is config fail_mode ("closed" or "open").
	FailMode string
	// Log receives warnings that do not fail the hook.
	Log io.Writer
}

// Run reads the state, validates it and reports it to confined. It returns
// nil when runc may go on and an error when it must not: at createRuntime
// that is any failure with fail_mode closed (runc then aborts the create,
// so no container runs unwatched). With fail_mode open, and always at
// poststop, failures are written to Log and Run returns nil: at poststop
// the container is already gone, and a failing poststop hook would only
// make `runc delete` report an error for a container it has removed.
func (h HookRun) Run(ctx context.Context) error {
	switch h.Stage {
	case wire.StageCreateRuntime, wire.StagePoststop:
	default:
		return fmt.Errorf("%w: unknown stage %q", ErrHookUsage, h.Stage)
	}
	err := h.report(ctx)
	if err == nil {
		return nil
	}
	if h.Stage == wire.StageCreateRuntime && h.FailMode != config.FailOpen {
		return fmt.Errorf("%w (fail_mode=%s: refusing to let the container start unwatched)", err, config.FailClosed)
	}
	why := "fail_mode=open"
	if h.Stage == wire.StagePoststop {
		why = "poststop never fails a delete"
	}
	if h.Log != nil {
		fmt.Fprintf(h.Log, "confine-hook: warning: %v (continuing: %s)\n", err, why)
	}
	return nil
}

func (h HookRun) report(ctx context.Context) error {
	st, err := ReadState(h.Stdin, MaxStateBytes)
	if err != nil {
		return fmt.Errorf("%s hook: %w", h.Stage, err)
	}
	if err := st.Validate(h.Stage); err != nil {
		return fmt.Errorf("%s hook: %w", h.Stage, err)
	}
	ctx, cancel := context.WithTimeout(ctx, HookTimeout)
	defer cancel()
	if err := h.Client.Hook(ctx, wire.HookRequest{Stage: h.Stage, State: st}); err != nil {
		return fmt.Errorf("%s hook for container %s (pid %d): %w", h.Stage, st.ID, st.Pid, err)
	}
	return nil
}
