package fanotify_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/confinehq/confine/monitor/fanotify"
	"github.com/confinehq/confine/monitor/rules"
	"github.com/confinehq/confine/profiles"
)

// The daemon starts a guard when confine-hook registers a container at
// createRuntime (before user code runs), with the init PID and bundle of
// the hook's state, and closes it at poststop.
func ExampleNewGuard() {
	var (
		id, bundle string // from the createRuntime hook's state
		pid        int
		profile    *profiles.Profile // the container's selected profile
		log        = slog.Default()
	)
	set, err := rules.Compile(profile)
	if err != nil {
		log.Error("compiling profile", "error", err)
		return
	}
	var spec specs.Spec
	if b, err := os.ReadFile(filepath.Join(bundle, "config.json")); err == nil {
		_ = json.Unmarshal(b, &spec)
	}
	g, err := fanotify.NewGuard(fanotify.GuardConfig{
		ID:         id,
		Pid:        pid,
		RootfsPath: filepath.Join(bundle, "rootfs"),
		Mounts:     fanotify.MountsFromSpec(&spec),
		Decide:     fanotify.RulesDecider(set, profile.Mode),
		Report: func(r fanotify.Report) {
			// Hand off to the alert pipeline: CONFINE_ACTION=denied when
			// !r.Verdict.Allow, CONFINE_PID=r.Event.PID, CONFINE_PATH or
			// CONFINE_EXE=r.Event.Path, CONFINE_RULE=r.Verdict.Violation.Rule.
		},
		FailOpen: false, // fail_mode = "closed"
		Log:      log,
	})
	if err != nil {
		log.Error("no fanotify guard; the /proc monitor still watches", "container", id, "error", err)
		return
	}
	// On a profile reload:
	g.SetDecide(fanotify.RulesDecider(set, profile.Mode))
	// At poststop (or daemon shutdown):
	_ = g.Close()
}
