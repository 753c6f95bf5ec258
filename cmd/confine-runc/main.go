// Command confine-runc is an OCI runtime with runc's command line. On
// create, run and restore, confined prepares a private copy of the
// bundle's config.json with the container's profile, which confine-runc
// mounts over it for the real runc (runc_path) it then execs with the
// original arguments; every other command goes straight to runc. Lean and
// static: see package hooks/front.
package main

import (
	"context"
	"os"

	"github.com/confinehq/confine/hooks/front"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/starttrace"
)

func main() {
	tr := starttrace.NewAtProcessStart(front.Name)
	cfg, err := config.Load()
	tr.Mark("config load")
	f := front.New(os.Args, cfg, err)
	f.Trace = tr
	if err := f.Run(context.Background()); err != nil {
		// Run has written the reason to runc's log file and stderr.
		os.Exit(1)
	}
	// Not reached: on success the process has become runc.
}
