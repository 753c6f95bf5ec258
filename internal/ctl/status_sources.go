package ctl

import (
	"fmt"
	"time"

	"github.com/confinehq/confine/internal/api"
)

// printSources prints the profile_sources part of confinectl status and
// reports whether any source's last poll failed.
func printSources(e *env, srcs []api.ProfileSource) bool {
	failed := false
	for _, s := range srcs {
		dg := s.Digest
		if dg == "" {
			dg = "nothing pulled yet"
		}
		sig := ""
		if s.Digest != "" && !s.Signed {
			sig = " (unsigned)"
		}
		fmt.Fprintf(e.stdout, "source %s: profile %s %s%s", s.Source, s.Profile, dg, sig)
		if !s.LastSuccess.IsZero() {
			fmt.Fprintf(e.stdout, ", last good poll %s ago", time.Since(s.LastSuccess).Round(time.Second))
		}
		fmt.Fprintln(e.stdout)
		if s.LastError != "" {
			failed = true
			fmt.Fprintf(e.stdout, "  error: %s\n", s.LastError)
		}
	}
	return failed
}
