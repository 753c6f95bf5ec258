package ociprofile

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseManifest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "manifest-*.json"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseManifest(data)
		if err == nil && (l.Profile.MediaType != MediaTypeProfile || l.Profile.Size > MaxLayerBytes || l.Profile.Digest.Validate() != nil) {
			t.Fatalf("accepted a bad profile layer: %+v", l.Profile)
		}
		_, _ = ParseSignatureManifest(data)
	})
}

func FuzzParsePayload(f *testing.F) {
	pl, _ := NewPayload("h/p", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	f.Add(pl)
	f.Add([]byte(`{"critical":{"type":"cosign container image signature","image":{"docker-manifest-digest":""}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParsePayload(data)
		if err == nil && d == "" {
			t.Fatal("accepted a payload with no digest")
		}
	})
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"oci://h:5000/a/b:c", "oci://h/p@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "oci://h/p:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if r.Reference() == "" {
			t.Fatalf("%q parsed without a tag or digest", s)
		}
		if _, err := ParseRef(r.String()); err != nil {
			t.Fatalf("%q -> %q does not parse back: %v", s, r.String(), err)
		}
	})
}
