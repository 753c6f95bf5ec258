package ctl

import "fmt"

// confinectl reload: what `systemctl reload confined` runs (ExecReload).
// It needs no /bin/kill and returns when confined has reloaded, so a
// profile that failed to load fails the reload visibly.

func init() {
	register(command{"reload", "reload profiles and reopen alert files (systemctl reload confined runs this)", reload})
}

func reload(e *env, args []string) error {
	fs := e.flags("reload", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("takes no arguments")
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	errs, err := c.Reload(cx)
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
