package ctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/config"
	"github.com/confinehq/confine/internal/testbed"
)

// TestProfilePushPull publishes a profile with confinectl and installs it
// on another "host" (its own configuration) with profile pull, through a
// real registry: signed by digest and tag, renamed, and refused unsigned.
func TestProfilePushPull(t *testing.T) {
	reg := testbed.StartRegistry(t)
	dir := t.TempDir()
	priv, pubPath := testbed.SigningKeys(t, dir, "team")
	pubDir, hostDir := filepath.Join(dir, "publisher"), filepath.Join(dir, "host", "profiles.d")
	os.MkdirAll(pubDir, 0o755)
	os.WriteFile(filepath.Join(pubDir, "web.yaml"), []byte("apiVersion: confine/v1\nname: web\nmode: enforce\nexec:\n  allow: [/bin/busybox]\n"), 0o644)
	conf := filepath.Join(dir, "confine.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf("profiles_dir = %q\nstate_dir = %q\nrequire_signature = true\nsignature_keys = [%q]\nregistry_auth_file = %q\nregistry_ca_files = [%q]\n",
		hostDir, filepath.Join(dir, "state"), pubPath, reg.AuthFile, reg.CAFile)), 0o600)
	t.Setenv(config.EnvPath, conf)
	run := func(want int, args ...string) string {
		t.Helper()
		var so, se bytes.Buffer
		if code := Main(args, nil, &so, &se); code != want {
			t.Fatalf("confinectl %s: exit %d, want %d: %s %s", strings.Join(args, " "), code, want, so.String(), se.String())
		}
		return so.String() + se.String()
	}
	src := reg.Ref("team/web:prod")
	out := run(0, "--json", "profile", "push", "web", src, "--profiles-dir", pubDir, "--sign-key", priv)
	var pushed struct {
		Digest string
		Signed bool
	}
	if err := json.Unmarshal([]byte(out), &pushed); err != nil || !pushed.Signed {
		t.Fatalf("push: %q %v", out, err)
	}
	run(0, "profile", "pull", src)
	data, err := os.ReadFile(filepath.Join(hostDir, "web.yaml"))
	if err != nil || !strings.Contains(string(data), "# pulled from "+src) || !strings.Contains(string(data), pushed.Digest+"; signature verified") {
		t.Fatalf("installed profile: %v\n%s", err, data)
	}
	byDigest := strings.TrimSuffix(src, ":prod") + "@" + pushed.Digest
	run(0, "profile", "pull", byDigest, "--name", "web-pinned")
	if data, err := os.ReadFile(filepath.Join(hostDir, "web-pinned.yaml")); err != nil || !strings.Contains(string(data), "name: web-pinned") {
		t.Fatalf("pull --name: %v\n%s", err, data)
	}
	// Unsigned: refused under require_signature, nothing installed. The
	// content differs from the signed push: an identical artifact pushed in
	// the same second has the same digest, and so the same (valid) signature.
	os.WriteFile(filepath.Join(pubDir, "web.yaml"), []byte("apiVersion: confine/v1\nname: web\nmode: enforce\nexec:\n  allow: [/bin/busybox, /bin/sh]\n"), 0o644)
	run(0, "profile", "push", "web", reg.Ref("team/web:unsigned"), "--profiles-dir", pubDir)
	if out := run(1, "profile", "pull", reg.Ref("team/web:unsigned"), "--name", "nope"); !strings.Contains(out, "no signature") {
		t.Fatalf("unsigned pull: %s", out)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "nope.yaml")); !os.IsNotExist(err) {
		t.Fatalf("unsigned profile installed: %v", err)
	}
	run(2, "profile", "push", "web", "registry.example/p:1")
}
