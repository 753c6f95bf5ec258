package ctl

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/confinehq/confine/internal/api"
	"github.com/confinehq/confine/profiles"
)

func init() {
	register(command{"profile promote", "NAME [--mode monitor|enforce]: install the learned profile into profiles_dir and reload", profilePromote})
	register(command{"profile diff", "NAME: show the learned profile against the installed one", profileDiff})
}

func (e *env) learnedPath(name string) (string, error) {
	cfg, err := e.config()
	if err != nil {
		return "", err
	}
	return filepath.Join(cfg.LearnedDir(), name+".yaml"), nil
}

func profilePromote(e *env, args []string) error {
	fs := e.flags("profile promote", "NAME [--mode monitor|enforce]")
	mode := fs.String("mode", "enforce", "mode of the installed profile: monitor or enforce")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || !profiles.ValidName(pos[0]) {
		return usagef("want exactly one profile NAME")
	}
	m, ok := profiles.ParseMode(*mode)
	if !ok || m == profiles.ModeLearn {
		return usagef("--mode: %q is not monitor or enforce", *mode)
	}
	src, err := e.learnedPath(pos[0])
	if err != nil {
		return err
	}
	r, err := profiles.ReadFile(src, parseOpts)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no learned profile %q (looked for %s): run a container with it in learn mode first", pos[0], src)
		}
		return fmt.Errorf("learned profile is not valid, nothing installed: %w", err)
	}
	p := r.Profile
	p.Mode = m
	cfg, _ := e.config()
	st := profiles.Store{Dir: cfg.ProfilesDir}
	notes := learnedNotes(src)
	header := append([]string{fmt.Sprintf("promoted from %s by confinectl on %s (mode %s)", src, time.Now().UTC().Format(time.RFC3339), m)}, notes...)
	backup, err := st.Install(p, header...)
	if err != nil {
		return err
	}
	res := map[string]any{"profile": p.Name, "mode": m, "installed": st.Path(p.Name), "backup": backup, "notes": notes}
	// Reload the daemon so running containers follow; a daemon that is
	// not running picks the file up when it starts.
	c, err := e.client()
	if err == nil {
		cx, cancel := ctx()
		errs, rerr := c.Reload(cx)
		cancel()
		switch {
		case rerr != nil && errors.Is(rerr, api.ErrUnreachable):
			res["reload"] = "confined not running: it loads the profile when it starts"
		case rerr != nil:
			res["reload"] = rerr.Error()
		case len(errs) > 0:
			res["reload"] = "reloaded with errors: " + strings.Join(errs, "; ")
		default:
			res["reload"] = "reloaded"
		}
	}
	if e.json {
		return e.printJSON(res)
	}
	fmt.Fprintf(e.stdout, "installed profile %q (mode %s) as %s\n", p.Name, m, st.Path(p.Name))
	for _, n := range notes {
		fmt.Fprintf(e.stdout, "%s\n", n)
	}
	if backup != "" {
		fmt.Fprintf(e.stdout, "previous version kept as %s\n", backup)
	}
	fmt.Fprintf(e.stdout, "confined: %v\n", res["reload"])
	return nil
}

func profileDiff(e *env, args []string) error {
	fs := e.flags("profile diff", "NAME")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || !profiles.ValidName(pos[0]) {
		return usagef("want exactly one profile NAME")
	}
	src, err := e.learnedPath(pos[0])
	if err != nil {
		return err
	}
	learned, err := profiles.ReadFile(src, parseOpts)
	if err != nil {
		return fmt.Errorf("reading learned profile: %w", err)
	}
	cfg, _ := e.config()
	var installed *profiles.Profile
	if r, err := (profiles.Store{Dir: cfg.ProfilesDir}).Read(pos[0], parseOpts); err == nil {
		installed = r.Profile
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading installed profile: %w", err)
	}
	lb, _ := profiles.Marshal(learned.Profile)
	var ib []byte
	if installed != nil {
		ib, _ = profiles.Marshal(installed)
	}
	d := lineDiff(string(ib), string(lb))
	notes := learnedNotes(src)
	if e.json {
		return e.printJSON(map[string]any{"profile": pos[0], "learned": learned.Profile, "installed": installed, "diff": d, "notes": notes})
	}
	for _, n := range notes {
		fmt.Fprintf(e.stdout, "# %s\n", n)
	}
	if installed == nil {
		fmt.Fprintf(e.stdout, "# %s is not installed in %s; the learned profile:\n", pos[0], cfg.ProfilesDir)
	}
	for _, l := range d {
		fmt.Fprintln(e.stdout, l)
	}
	if len(d) > 0 && installed != nil && !bytes.Equal(ib, lb) {
		return errFinding
	}
	return nil
}

// lineDiff is a small LCS line diff: "-" installed only, "+" learned only.
func lineDiff(a, b string) []string {
	al, bl := splitLines(a), splitLines(b)
	n, m := len(al), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, "+ "+bl[j])
			j++
		default:
			out = append(out, "- "+al[i])
			i++
		}
	}
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}
