package wrapper

import (
	"fmt"
	"time"

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/profiles"
)

// DecideTimeout bounds the question to confined.
const DecideTimeout = 2 * time.Second

// LocalProfile resolves a container's profile without confined, for
// fail_mode open: profiles_dir is loaded (bad files are skipped, as the
// daemon does) and the profile is selected from the spec's annotations
// (containerd labels are not visible to a runtime), else default_profile.
// When selection fails, the embedded baseline applies: fail_mode open
// means the container runs, with the safest profile at hand.
func LocalProfile(cfg *config.Config, req api.DecideRequest) (*profiles.Profile, string, error) {
	set, errs := profiles.LoadDir(cfg.ProfilesDir, profiles.Options{})
	sel, err := set.Select(profiles.Target{Annotations: req.Annotations}, cfg.DefaultProfile)
	if err != nil {
		return profiles.Baseline(), fmt.Sprintf("embedded baseline: %v", err), nil
	}
	reason := sel.Reason
	if len(errs) > 0 {
		reason = fmt.Sprintf("%s; %d profile file(s) in %s did not load", reason, len(errs), cfg.ProfilesDir)
	}
	return sel.Profile, reason, nil
}
