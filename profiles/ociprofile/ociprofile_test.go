package ociprofile

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/confinehq/confine/internal/testbed"
	"github.com/google/go-cmp/cmp"
)

func TestParseRef(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, in string
		want     Ref
		err      string
	}{
		{name: "tag", in: "oci://registry.example:5000/team/profiles:prod", want: Ref{Registry: "registry.example:5000", Repository: "team/profiles", Tag: "prod"}},
		{name: "digest", in: "oci://127.0.0.1:5000/p@" + dg, want: Ref{Registry: "127.0.0.1:5000", Repository: "p", Digest: dg}},
		{name: "tag and digest", in: "oci://h/p:v1@" + dg, want: Ref{Registry: "h", Repository: "p", Tag: "v1", Digest: dg}},
		{name: "no scheme", in: "registry.example/p:1", err: "must start with oci://"},
		{name: "no tag", in: "oci://h/p", err: "needs a :TAG"},
		{name: "bad repo", in: "oci://h/UPPER:1", err: "invalid"},
		{name: "sha512", in: "oci://h/p@sha512:" + strings.Repeat("ab", 64), err: "only sha256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRef(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatal(d)
			}
			if back, _ := ParseRef(got.String()); back != got {
				t.Fatalf("String() %q does not parse back", got.String())
			}
		})
	}
}

func TestParseManifest(t *testing.T) {
	tests := []struct {
		name, file, err string
	}{
		{name: "profile with learned layer", file: "manifest-ok.json"},
		{name: "an image, not a profile", file: "manifest-image.json", err: "not a confine profile"},
		{name: "no profile layer", file: "manifest-nolayer.json", err: "no application/vnd.confine.profile.v1+yaml layer"},
		{name: "oversized layer", file: "manifest-big.json", err: "size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			l, err := ParseManifest(data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Name != "web" || l.Learned == nil || l.Profile.MediaType != MediaTypeProfile {
				t.Fatalf("layers %+v", l)
			}
		})
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	pl, err := NewPayload("h/p", dg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePayload(pl)
	if err != nil || got != dg {
		t.Fatalf("ParsePayload = %q, %v", got, err)
	}
	if _, err := ParsePayload([]byte(`{"critical":{"type":"x"}}`)); err == nil {
		t.Fatal("a payload of another type was accepted")
	}
	if SignatureTag(dg) != "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig" {
		t.Fatal(SignatureTag(dg))
	}
}

const profileYAML = "apiVersion: confine/v1\nname: web\nmode: enforce\nexec:\n  allow: [/bin/busybox]\n"

// TestRegistry pushes and pulls through Debian's docker-registry with TLS
// and basic auth: signed, unsigned, forged, wrong key, tampered blob.
func TestRegistry(t *testing.T) {
	reg := testbed.StartRegistry(t)
	dir := t.TempDir()
	signKey, pubKey := testbed.SigningKeys(t, dir, "team")
	_, otherPub := testbed.SigningKeys(t, dir, "other")
	c, err := NewClient(Options{AuthFile: reg.AuthFile, CAFiles: []string{reg.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := LoadSigner(signKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadVerifiers([]string{pubKey})
	if err != nil {
		t.Fatal(err)
	}
	others, err := LoadVerifiers([]string{otherPub})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref := func(s string) Ref {
		r, err := ParseRef(reg.Ref(s))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	art := Artifact{Name: "web", Digest: "d1", Profile: []byte(profileYAML), Learned: []byte("learned: yes\n")}
	good, err := c.Push(ctx, ref("team/profiles:prod"), art, signer)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.Resolve(ctx, ref("team/profiles:prod")); err != nil || d != good {
		t.Fatalf("Resolve = %s, %v; pushed %s", d, err, good)
	}
	p, err := c.Pull(ctx, ref("team/profiles:prod"), Policy{Keys: keys, Require: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Signed || p.ManifestDigest != good || string(p.Profile) != profileYAML || string(p.Learned) != "learned: yes\n" || p.Name != "web" {
		t.Fatalf("pulled %+v", p)
	}
	if _, err := c.Pull(ctx, ref("team/profiles@"+good), Policy{Keys: keys, Require: true}); err != nil {
		t.Fatalf("pull by digest: %v", err)
	}

	// Unsigned.
	art2 := art
	art2.Profile = []byte(strings.Replace(profileYAML, "enforce", "monitor", 1))
	art2.Learned = nil
	unsigned, err := c.Push(ctx, ref("team/profiles:unsigned"), art2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pull(ctx, ref("team/profiles:unsigned"), Policy{Keys: keys, Require: true}); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned pull with require_signature: %v", err)
	}
	if p, err := c.Pull(ctx, ref("team/profiles:unsigned"), Policy{Keys: keys}); err != nil || p.Signed {
		t.Fatalf("unsigned pull without require_signature: %+v, %v", p, err)
	}
	// Wrong key.
	if _, err := c.Pull(ctx, ref("team/profiles:prod"), Policy{Keys: others, Require: true}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("pull verified with another key: %v", err)
	}
	// A good signature copied onto another artifact.
	pl, err := NewPayload(reg.Host+"/team/profiles", good)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := sign(signer, pl)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PushSignature(ctx, ref("team/profiles:unsigned"), unsigned, pl, sig); err != nil {
		t.Fatal(err)
	}
	for _, pol := range []Policy{{Keys: keys, Require: true}, {Keys: keys}} {
		if _, err := c.Pull(ctx, ref("team/profiles:unsigned"), pol); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "signature is for") {
			t.Fatalf("copied signature (require=%v): %v", pol.Require, err)
		}
	}
	// The profile blob changed in the registry's storage.
	m, err := c.fetchManifest(ctx, ref("team/profiles:prod"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reg.BlobPath(m.Profile.Digest.String()), []byte(strings.Replace(profileYAML, "busybox", "sh\n  - /bin/evil", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pull(ctx, ref("team/profiles:prod"), Policy{Keys: keys, Require: true}); err == nil || !strings.Contains(err.Error(), "profile layer") {
		t.Fatalf("tampered blob: %v", err)
	}
	// Wrong credentials.
	bad := filepath.Join(dir, "bad.json")
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{reg.Host: map[string]string{"auth": "Y29uZmluZTpub3BlCg=="}}})
	os.WriteFile(bad, b, 0o600)
	c2, err := NewClient(Options{AuthFile: bad, CAFiles: []string{reg.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Resolve(ctx, ref("team/profiles:prod")); err == nil {
		t.Fatal("resolve with wrong credentials succeeded")
	}
}
