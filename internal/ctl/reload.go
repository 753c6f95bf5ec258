package ctl

import (
	"fmt"

	"github.com/confinehq/confine/internal/api"
)

// confinectl reload: what `systemctl reload confined` runs (ExecReload).
// It needs no /bin/kill and returns when confined has reloaded, so a
// profile that failed to load fails the reload visibly.

func init() {
	register(command{"reload", "reload profiles and reopen alert files (systemctl reload confined runs this)", reload})
}

func reload(e *env, args []string) error {
	fs := e.flags("reload", "")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	errs, err := call(e, (*api.Client).Reload)
	if err != nil {
		return fmt.Errorf("reloading confined: %w", err)
	}
	if e.json {
		if err := e.printJSON(map[string]any{"reloaded": true, "profileErrors": errs}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "confined reloaded its profiles and reopened its alert files\n")
		for _, pe := range errs {
			fmt.Fprintf(e.stdout, "  error (the last good version stays in force): %s\n", pe)
		}
	}
	if len(errs) > 0 {
		return errFinding
	}
	return nil
}
