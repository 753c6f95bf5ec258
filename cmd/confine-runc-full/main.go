// Command confine-runc-full is the complete OCI runtime wrapper with
// runc's command line (package hooks/wrapper): on create, run and restore
// it decides with confined (or, with fail_mode open, alone), renders the
// private copy of config.json and execs the real runc (runc_path). The
// lean confine-runc (hooks/front) hands it what confined does not prepare:
// confined unreachable, `runc exec`, command lines it does not parse.
package main

import (
	"context"
	"os"

	"github.com/confinehq/confine/hooks/wrapper"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/starttrace"
)

func main() {
	tr := starttrace.NewAtProcessStart(wrapper.Name + "-full")
	cfg, err := config.Load()
	tr.Mark("config load")
	w := wrapper.New(os.Args, cfg, err)
	w.Trace = tr
	if err := w.Run(context.Background()); err != nil {
		// Run has written the reason to runc's log file and stderr.
		os.Exit(1)
	}
	// Not reached: on success the process has become runc.
}
