package ctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/seccomp"
	"github.com/confinehq/confine/seccomp/profilecheck"
)

func init() {
	register(command{"profile list", "list the profiles (configured dir, or --profiles-dir)", profileList})
	register(command{"profile show", "NAME: print a profile as YAML", profileShow})
	register(command{"profile validate", "FILE...: check profiles; errors name file:line", profileValidate})
	register(command{"profile import-docker", "FILE --name NAME: Docker seccomp JSON -> profile YAML", profileImportDocker})
	register(command{"profile export-docker", "NAME|FILE.yaml: profile -> Docker seccomp JSON", profileExportDocker})
}

var parseOpts = profilecheck.Options()

// profilesDir returns --profiles-dir or the configured directory.
func (e *env) profilesDir(flagVal string) (string, error) {
	if flagVal != "" {
		return flagVal, nil
	}
	cfg, err := e.config()
	if err != nil {
		return "", err
	}
	return cfg.ProfilesDir, nil
}

func (e *env) loadSet(dir string) (*profiles.Set, error) {
	set, errs := profiles.LoadDir(dir, parseOpts)
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "warning: %v\n", err)
	}
	return set, nil
}

func profileList(e *env, args []string) error {
	fs := e.flags("profile list", "[--profiles-dir DIR]")
	dir := fs.String("profiles-dir", "", "profiles directory (default: profiles_dir of the configuration)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	d, err := e.profilesDir(*dir)
	if err != nil {
		return err
	}
	set, err := e.loadSet(d)
	if err != nil {
		return err
	}
	type row struct {
		Name   string `json:"name"`
		Mode   string `json:"mode"`
		Source string `json:"source"`
		Digest string `json:"digest"`
	}
	var rows []row
	for _, n := range set.Names() {
		p, _ := set.Get(n)
		rows = append(rows, row{p.Name, string(p.Mode), p.Source, profiles.Digest(p)})
	}
	if e.json {
		return e.printJSON(rows)
	}
	tw := newTable(e.stdout, "NAME", "MODE", "SOURCE")
	for _, r := range rows {
		tw.row(r.Name, r.Mode, r.Source)
	}
	return tw.flush()
}

// resolveProfile reads NAME from the profiles dir, or a file when the
// argument looks like a path.
func (e *env) resolveProfile(arg, dirFlag string) (*profiles.Profile, error) {
	if strings.ContainsRune(arg, '/') || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		r, err := profiles.ReadFile(arg, parseOpts)
		if err != nil {
			return nil, err
		}
		return r.Profile, nil
	}
	d, err := e.profilesDir(dirFlag)
	if err != nil {
		return nil, err
	}
	set, err := e.loadSet(d)
	if err != nil {
		return nil, err
	}
	p, ok := set.Get(arg)
	if !ok {
		return nil, fmt.Errorf("no profile named %q in %s (known: %s)", arg, d, strings.Join(set.Names(), ", "))
	}
	return p, nil
}

func profileShow(e *env, args []string) error {
	fs := e.flags("profile show", "NAME [--profiles-dir DIR]")
	dir := fs.String("profiles-dir", "", "profiles directory (default: profiles_dir of the configuration)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one profile NAME")
	}
	p, err := e.resolveProfile(pos[0], *dir)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(p)
	}
	data, err := profiles.Marshal(p, "source: "+p.Source, "digest: "+profiles.Digest(p))
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(data)
	return err
}

func profileValidate(e *env, args []string) error {
	fs := e.flags("profile validate", "FILE...")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("want at least one FILE")
	}
	type result struct {
		File     string   `json:"file"`
		Name     string   `json:"name,omitempty"`
		OK       bool     `json:"ok"`
		Errors   []string `json:"errors,omitempty"`
		Warnings []string `json:"warnings,omitempty"`
	}
	var results []result
	var loaded []*profiles.Profile
	bad := false
	for _, f := range pos {
		res := result{File: f, OK: true}
		r, err := profiles.ReadFile(f, parseOpts)
		if r != nil {
			res.Warnings = r.Warnings
			if r.Profile != nil {
				res.Name = r.Profile.Name
			}
		}
		if err != nil {
			res.OK = false
			res.Errors = splitErrors(err)
			bad = true
		} else {
			loaded = append(loaded, r.Profile)
		}
		results = append(results, res)
	}
	// Names and selectors are checked across the files given together.
	if _, errs := profiles.NewSet(loaded...); len(errs) > 0 {
		bad = true
		for _, err := range errs {
			results = append(results, result{File: "(set)", Errors: splitErrors(err)})
		}
	}
	if e.json {
		if err := e.printJSON(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			for _, m := range r.Errors {
				fmt.Fprintf(e.stdout, "error: %s\n", m)
			}
			for _, w := range r.Warnings {
				fmt.Fprintf(e.stdout, "warning: %s\n", w)
			}
			if r.OK && r.File != "(set)" {
				fmt.Fprintf(e.stdout, "%s: ok (profile %q)\n", r.File, r.Name)
			}
		}
	}
	if bad {
		return errFinding
	}
	return nil
}

// splitErrors flattens errors.Join trees into one message per error.
func splitErrors(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		out = append(out, err.Error())
	}
	walk(err)
	return out
}

func profileImportDocker(e *env, args []string) error {
	fs := e.flags("profile import-docker", "FILE --name NAME [--mode MODE] [-o OUT]")
	name := fs.String("name", "", "name of the new profile (required)")
	mode := fs.String("mode", "enforce", "mode of the new profile: learn, monitor or enforce")
	out := fs.String("o", "", "write the profile to this file (atomically) instead of stdout")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one Docker seccomp JSON FILE")
	}
	if *name == "" || !profiles.ValidName(*name) {
		return usagef("--name: %q is not a valid profile name", *name)
	}
	m, ok := profiles.ParseMode(*mode)
	if !ok {
		return usagef("--mode: %q is not learn, monitor or enforce", *mode)
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("reading Docker seccomp profile: %w", err)
	}
	p, notes, err := seccomp.ImportDocker(data, pos[0], *name, seccomp.HostArch())
	if err != nil {
		return err
	}
	p.Mode = m
	for _, n := range notes {
		fmt.Fprintf(e.stderr, "note: %s\n", n)
	}
	if errs, _ := profiles.Validate(p, parseOpts); len(errs) > 0 {
		return fmt.Errorf("imported profile is not valid: %w", errors.Join(errs...))
	}
	header := []string{fmt.Sprintf("imported from %s by confinectl on %s", filepath.Base(pos[0]), time.Now().UTC().Format(time.RFC3339))}
	for _, n := range notes {
		header = append(header, "note: "+n)
	}
	if *out != "" {
		st := profiles.Store{Dir: filepath.Dir(*out)}
		if filepath.Base(*out) != p.Name+".yaml" {
			return usagef("-o: the file must be named %s.yaml in its directory", p.Name)
		}
		return st.Write(p, header...)
	}
	if e.json {
		return e.printJSON(map[string]any{"profile": p, "notes": notes})
	}
	data, err = profiles.Marshal(p, header...)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(data)
	return err
}

func profileExportDocker(e *env, args []string) error {
	fs := e.flags("profile export-docker", "NAME|FILE.yaml [--profiles-dir DIR]")
	dir := fs.String("profiles-dir", "", "profiles directory (default: profiles_dir of the configuration)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one profile NAME or FILE")
	}
	p, err := e.resolveProfile(pos[0], *dir)
	if err != nil {
		return err
	}
	data, err := seccomp.ExportDocker(p, seccomp.HostArch())
	if err != nil {
		return fmt.Errorf("exporting profile %q: %w", p.Name, err)
	}
	_, err = e.stdout.Write(data)
	return err
}

// ctx returns a context bounded for one API call.
func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Second)
}
