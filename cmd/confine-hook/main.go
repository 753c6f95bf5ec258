// Command confine-hook is the OCI hook confine-runc injects:
// `confine-hook createRuntime` registers the container's init PID with
// confined before user code runs, `confine-hook poststop` unregisters it.
// runc passes the container state as JSON on stdin. Pure Go (CGO_ENABLED=0)
// and lean: it runs twice on every container start, so it links only the
// configuration, hooks/hookrun and the small API client (internal/api/wire).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/confinehq/confine/hooks/hookrun"
	"github.com/confinehq/confine/internal/api/wire"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/starttrace"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "confine-hook: %v\n", hookrun.ErrHookUsage)
		os.Exit(2)
	}
	stage := os.Args[1]
	tr := starttrace.NewAtProcessStart("confine-hook " + stage)
	cfg, err := config.Load()
	tr.Mark("config load")
	if err != nil {
		// Without a configuration the fail mode is unknown: the built-in
		// default (closed) applies.
		fmt.Fprintf(os.Stderr, "confine-hook: %s: %v (fail_mode=%s)\n", stage, err, config.FailClosed)
		os.Exit(1)
	}
	run := hookrun.HookRun{
		Stage:    stage,
		Stdin:    os.Stdin,
		Client:   wire.Client{Socket: cfg.APISocket(), Timeout: hookrun.HookTimeout},
		FailMode: cfg.FailMode,
		Log:      os.Stderr,
	}
	err = run.Run(context.Background())
	tr.Mark("read state, round trip to confined")
	tr.Write(cfg.RunDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "confine-hook: %v\n", err)
		if errors.Is(err, hookrun.ErrHookUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
