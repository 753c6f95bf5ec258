package ctl

import (
	"fmt"
	"time"

	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/profiles/ociprofile"
)

func init() {
	register(command{"profile pull", "oci://HOST[:PORT]/REPO[:TAG|@DIGEST] [--name NAME]: verify and install a published profile into profiles_dir", profilePull})
}

func profilePull(e *env, args []string) error {
	fs := e.flags("profile pull", "oci://HOST[:PORT]/REPO[:TAG|@DIGEST] [--name NAME] [--profiles-dir DIR]")
	dir := fs.String("profiles-dir", "", "where to install it (default: profiles_dir of the configuration)")
	name := fs.String("name", "", "install under this name (default: the profile's own name)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one oci://HOST[:PORT]/REPO[:TAG|@DIGEST]")
	}
	if *name != "" && !profiles.ValidName(*name) {
		return usagef("--name: %q is not a valid profile name", *name)
	}
	ref, err := ociprofile.ParseRef(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	cfg, err := e.config()
	if err != nil {
		return err
	}
	keys, err := ociprofile.LoadVerifiers(cfg.SignatureKeys)
	if err != nil {
		return fmt.Errorf("signature_keys: %w", err)
	}
	c, err := e.registryClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	p, err := c.Pull(cx, ref, ociprofile.Policy{Keys: keys, Require: cfg.RequireSignature})
	if err != nil {
		return err
	}
	r, err := profiles.Parse(p.Profile, ref.String(), parseOpts)
	if err != nil {
		return fmt.Errorf("nothing installed: %w", err)
	}
	prof := r.Profile
	if *name != "" {
		prof.Name = *name
	}
	d, err := e.profilesDir(*dir)
	if err != nil {
		return err
	}
	signed := "no signature checked (no signature_keys configured)"
	switch {
	case p.Signed:
		signed = "signature verified"
	case len(keys) > 0:
		signed = "UNSIGNED (require_signature is off)"
	}
	backup, err := profiles.Store{Dir: d}.Install(prof, fmt.Sprintf("pulled from %s by confinectl on %s", ref, time.Now().UTC().Format(time.RFC3339)),
		fmt.Sprintf("digest %s; %s", p.ManifestDigest, signed))
	if err != nil {
		return err
	}
	out := struct {
		Profile string `json:"profile"`
		Path    string `json:"path"`
		Backup  string `json:"backup,omitempty"`
		Digest  string `json:"digest"`
		Signed  bool   `json:"signed"`
	}{prof.Name, profiles.Store{Dir: d}.Path(prof.Name), backup, p.ManifestDigest, p.Signed}
	if e.json {
		return e.printJSON(out)
	}
	fmt.Fprintf(e.stdout, "installed profile %s as %s (%s, %s)\n", prof.Name, out.Path, p.ManifestDigest, signed)
	if backup != "" {
		fmt.Fprintf(e.stdout, "the previous file is kept as %s\n", backup)
	}
	return nil
}
