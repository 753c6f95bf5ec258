package ctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/confinehq/confine/profiles"
	"github.com/confinehq/confine/profiles/ociprofile"
	"github.com/sigstore/sigstore/pkg/signature"
)

func init() {
	register(command{"profile push", "NAME|FILE.yaml oci://HOST[:PORT]/REPO:TAG [--sign-key KEY] [--with-learned]: publish a profile as a signed OCI artifact", profilePush})
}

// registryClient builds a registry client from the configuration
// (registry_auth_file, registry_ca_files).
func (e *env) registryClient() (*ociprofile.Client, error) {
	cfg, err := e.config()
	if err != nil {
		return nil, err
	}
	return ociprofile.NewClient(ociprofile.Options{AuthFile: cfg.RegistryAuthFile, CAFiles: cfg.RegistryCAFiles})
}

func profilePush(e *env, args []string) error {
	fs := e.flags("profile push", "NAME|FILE.yaml oci://HOST[:PORT]/REPO:TAG [--sign-key KEY] [--with-learned] [--profiles-dir DIR]")
	dir := fs.String("profiles-dir", "", "profiles directory NAME is read from (default: profiles_dir of the configuration)")
	keyPath := fs.String("sign-key", "", "private key (PEM; cosign's encrypted keys read COSIGN_PASSWORD) to sign with; without it the artifact is unsigned")
	learned := fs.Bool("with-learned", false, "also attach state_dir/learned/NAME.yaml, the learned profile behind it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want NAME (or FILE.yaml) and oci://HOST[:PORT]/REPO:TAG")
	}
	ref, err := ociprofile.ParseRef(pos[1])
	if err != nil {
		return usagef("%v", err)
	}
	if ref.Tag == "" || ref.Digest != "" {
		return usagef("%s: push needs a :TAG and no @digest", pos[1])
	}
	path := pos[0]
	if !strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml") {
		if !profiles.ValidName(path) {
			return usagef("%q is neither a profile name nor a .yaml file", path)
		}
		d, err := e.profilesDir(*dir)
		if err != nil {
			return err
		}
		path = profiles.Store{Dir: d}.Path(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the profile to push: %w", err)
	}
	r, err := profiles.Parse(data, path, parseOpts)
	if err != nil {
		return fmt.Errorf("not pushing an invalid profile: %w", err)
	}
	a := ociprofile.Artifact{Name: r.Profile.Name, Digest: profiles.Digest(r.Profile), Profile: data}
	if *learned {
		cfg, err := e.config()
		if err != nil {
			return err
		}
		lp := filepath.Join(cfg.LearnedDir(), r.Profile.Name+".yaml")
		if a.Learned, err = os.ReadFile(lp); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("--with-learned: no learned profile %s", lp)
			}
			return fmt.Errorf("--with-learned: %w", err)
		}
	}
	var signer signature.Signer
	if *keyPath != "" {
		if signer, err = ociprofile.LoadSigner(*keyPath); err != nil {
			return err
		}
	}
	c, err := e.registryClient()
	if err != nil {
		return err
	}
	cx, cancel := ctx()
	defer cancel()
	dg, err := c.Push(cx, ref, a, signer)
	if err != nil {
		return err
	}
	out := struct {
		Profile string `json:"profile"`
		Ref     string `json:"ref"`
		Digest  string `json:"digest"`
		Signed  bool   `json:"signed"`
	}{a.Name, ref.String(), dg, signer != nil}
	if e.json {
		return e.printJSON(out)
	}
	sig := "UNSIGNED (hosts with require_signature = true will refuse it)"
	if signer != nil {
		sig = "signed with " + *keyPath
	}
	fmt.Fprintf(e.stdout, "pushed profile %s to %s\ndigest %s, %s\npin it with: %s\n", a.Name, ref, dg, sig,
		ociprofile.Ref{Registry: ref.Registry, Repository: ref.Repository, Digest: dg})
	return nil
}
