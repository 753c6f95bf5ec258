// confined is confine's daemon: it follows every container of containerd,
// watches their processes and enforces their profiles. See confined --help.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/daemon"
	"github.com/confinehq/confine/internal/version"
)

func main() {
	fs := flag.NewFlagSet("confined", flag.ContinueOnError)
	debug := fs.Bool("debug", false, "log at debug level")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, `Usage: confined [--debug]

confined follows every containerd container, watches its processes through
/proc and the kernel's process events, and enforces its confine profile:
violations in enforce mode kill the container; every decision is an alert
(journald by default).

Configuration: %s, or the file named by $%s; every key has a default.
Signals: SIGHUP reloads profiles and reopens alert files; SIGTERM stops
(running containers keep running and keep their seccomp filter).
`, config.DefaultPath, config.EnvPath)
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println("confined", version.Version)
		return
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := config.Load()
	if err != nil {
		log.Error("configuration", "error", err)
		fmt.Fprintf(os.Stderr, "confined: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// cpu_profile = FILE writes a Go CPU profile of the first
	// cpu_profile_for of the run (bench: where confined's time per
	// container start goes).
	if cfg.CPUProfile != "" {
		profileCPU(cfg.CPUProfile, cfg.CPUProfileFor.Duration, log)
	}
	d, err := daemon.New(cfg, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "confined: %v\n", err)
		os.Exit(1)
	}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "confined: %v\n", err)
		os.Exit(1)
	}
}

func profileCPU(path string, d time.Duration, log *slog.Logger) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		log.Warn("CPU profile not written", "error", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		log.Warn("CPU profile not written", "error", err)
		return
	}
	time.AfterFunc(d, func() {
		pprof.StopCPUProfile()
		f.Close()
	})
}
