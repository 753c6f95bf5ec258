// Command confine-runc is an OCI runtime with runc's command line. On
// create and run it injects the container's confine profile into the
// bundle's config.json, then execs the real runc (runc_path) with the
// original arguments; every other command goes straight to runc. See
// package hooks/wrapper.
package main

import (
	"context"
	"os"

	"github.com/confinehq/confine/hooks/wrapper"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/starttrace"
)

func main() {
	tr := starttrace.NewAtProcessStart(wrapper.Name)
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
