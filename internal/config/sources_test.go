package config

import (
	"strings"
	"testing"
	"time"
)

func TestSourcesKeys(t *testing.T) {
	tests := []struct {
		name, src, err string
	}{
		{name: "spec example", src: "profile_sources = [\"oci://registry.example:5000/team/profiles:prod\"]\nprofile_poll = \"1m\"\nrequire_signature = true\nsignature_keys = [\"/etc/confine/keys/team.pub\"]\n"},
		{name: "not oci", src: "profile_sources = [\"https://r/p:1\"]\n", err: "key profile_sources"},
		{name: "twice", src: "profile_sources = [\"oci://r/p:1\", \"oci://r/p:1\"]\n", err: "listed twice"},
		{name: "fast poll", src: "profile_poll = \"10ms\"\n", err: "key profile_poll"},
		{name: "relative key", src: "signature_keys = [\"team.pub\"]\n", err: "key signature_keys"},
		{name: "require without keys", src: "require_signature = true\n", err: "key require_signature"},
		{name: "relative auth", src: "registry_auth_file = \"config.json\"\n", err: "key registry_auth_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.src), "x.toml")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "x.toml") {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ProfilePoll.Duration != time.Minute || !c.RequireSignature || len(c.ProfileSources) != 1 {
				t.Fatalf("%+v", c)
			}
		})
	}
	if d := Default(); d.ProfilePoll.Duration != time.Minute || d.RequireSignature || d.ProfileCacheDir() != "/var/lib/confine/sources" {
		t.Fatalf("defaults %+v", d)
	}
}
