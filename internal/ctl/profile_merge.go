package ctl

import (
	"fmt"
	"os"

	"github.com/confinehq/confine/internal/atomicfile"
	"github.com/confinehq/confine/profiles"
)

func init() {
	register(command{"profile merge", "FILE... [--name NAME] [-o FILE]: union of learned profiles, with provenance comments, for review", profileMerge})
}

func profileMerge(e *env, args []string) error {
	fs := e.flags("profile merge", "FILE... [--name NAME] [-o FILE]")
	name := fs.String("name", "", "name of the merged profile (needed when the inputs' names differ)")
	out := fs.String("o", "", "write the result to this file (atomically) instead of stdout")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("want at least one profile FILE")
	}
	if *name != "" && !profiles.ValidName(*name) {
		return usagef("--name: %q is not a valid profile name", *name)
	}
	var in []profiles.MergeInput
	for _, p := range pos {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading a profile to merge: %w", err)
		}
		in = append(in, profiles.MergeInput{Label: p, Data: data})
	}
	merged, err := profiles.Merge(in, *name, parseOpts)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err := e.stdout.Write(merged)
		return err
	}
	if err := atomicfile.WriteFile(*out, merged, 0o644); err != nil {
		return fmt.Errorf("writing the merged profile: %w", err)
	}
	fmt.Fprintf(e.stderr, "merged %d profiles into %s: review the comments, then install it\n", len(pos), *out)
	return nil
}
