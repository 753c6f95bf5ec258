package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// MinProfilePoll is the shortest profile_poll accepted.
const MinProfilePoll = time.Second

// validateSources checks the fleet keys. The full reference grammar is
// checked by profiles/ociprofile when confined starts (this package stays
// free of registry code: confine-hook links it).
func (c *Config) validateSources() error {
	seen := map[string]bool{}
	for _, s := range c.ProfileSources {
		rest, ok := strings.CutPrefix(s, "oci://")
		if !ok || !strings.Contains(rest, "/") {
			return fmt.Errorf("key profile_sources: %q is not oci://HOST[:PORT]/REPO:TAG or …@sha256:DIGEST", s)
		}
		if seen[s] {
			return fmt.Errorf("key profile_sources: %q is listed twice", s)
		}
		seen[s] = true
	}
	if c.ProfilePoll.Duration < MinProfilePoll {
		return fmt.Errorf("key profile_poll: %s is below the %s minimum", c.ProfilePoll, MinProfilePoll)
	}
	for k, list := range map[string][]string{"signature_keys": c.SignatureKeys, "registry_ca_files": c.RegistryCAFiles} {
		for _, p := range list {
			if !filepath.IsAbs(p) {
				return fmt.Errorf("key %s: %q is not an absolute path", k, p)
			}
		}
	}
	if c.RegistryAuthFile != "" && !filepath.IsAbs(c.RegistryAuthFile) {
		return fmt.Errorf("key registry_auth_file: %q is not an absolute path", c.RegistryAuthFile)
	}
	if c.RequireSignature && len(c.SignatureKeys) == 0 {
		return fmt.Errorf("key require_signature: true needs at least one key in signature_keys")
	}
	return nil
}

// ProfileCacheDir is where confined keeps the last good profile of each
// source (loaded with profiles_dir, so it survives outages and restarts).
func (c *Config) ProfileCacheDir() string { return filepath.Join(c.StateDir, "sources") }
