package wrapper

import (
	"context"
	"errors"
	"fmt"

	"github.com/confinehq/confine/hooks/runcargs"
	"github.com/confinehq/confine/internal/api/wire"
)

// Prepare is the part of Run that confined does for the lean confine-runc
// (hooks/front): the checks, the decision and the private copy, without
// the mount and the exec, which stay in confine-runc's own process. Its
// messages for runc's log come back in the answer; an error is a refusal
// whose reason the caller logs, as Run would.
func (w *Wrapper) Prepare(ctx context.Context) *wire.PrepareAnswer {
	var logs []wire.LogEntry
	log := &runcargs.RuncLog{Record: func(level, msg string) { logs = append(logs, wire.LogEntry{Level: level, Msg: msg}) }}
	answer := func(outcome string) *wire.PrepareAnswer {
		return &wire.PrepareAnswer{Outcome: outcome, Logs: logs}
	}
	var argv []string
	if len(w.Args) > 1 {
		argv = w.Args[1:]
	}
	inv, perr := runcargs.ParseArgs(argv)
	if perr != nil || !inv.Injects() || w.Config == nil {
		// Usage errors, fail-open decisions and every other command stay
		// with confine-runc's own code path.
		return answer(wire.OutcomeFallback)
	}
	w.Trace.SetContainer(inv.ID)
	refuse := func(msg string) *wire.PrepareAnswer {
		a := answer(wire.OutcomeRefused)
		a.Error = msg
		return a
	}
	if err := w.checkRunc(w.Config.RuncPath); err != nil {
		return refuse(fmt.Sprintf("%v; refusing to %s container %s", err, inv.Command, idOrUnknown(inv.ID)))
	}
	cp, err := w.inject(ctx, log, inv)
	switch {
	case errors.Is(err, errRuncRefuses):
		return answer(wire.OutcomePassThrough)
	case err != nil:
		return refuse(err.Error())
	}
	a := answer(wire.OutcomePrepared)
	a.Copy, a.Target, a.Placeholder = cp.Copy, cp.Target, cp.Placeholder
	return a
}
