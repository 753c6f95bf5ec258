package ociprofile

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// Scheme prefixes every profile reference.
const Scheme = "oci://"

// Ref is oci://HOST[:PORT]/REPO[:TAG|@DIGEST].
type Ref struct {
	Registry   string // host[:port]
	Repository string
	Tag        string // "" when pinned by Digest only
	Digest     string // sha256:..., "" unless pinned
}

// ParseRef parses an oci:// reference. A reference needs a tag or a digest.
func ParseRef(s string) (Ref, error) {
	if !strings.HasPrefix(s, Scheme) {
		return Ref{}, fmt.Errorf("profile reference %q: must start with %s", s, Scheme)
	}
	r, err := registry.ParseReference(strings.TrimPrefix(s, Scheme))
	if err != nil {
		return Ref{}, fmt.Errorf("profile reference %q: %w", s, err)
	}
	out := Ref{Registry: r.Registry, Repository: r.Repository}
	if d, err := r.Digest(); err == nil {
		if d.Algorithm() != digest.SHA256 {
			return Ref{}, fmt.Errorf("profile reference %q: only sha256 digests are accepted", s)
		}
		out.Digest = d.String()
		// registry.ParseReference keeps "tag@digest" as the digest only.
		if i := strings.LastIndex(strings.TrimPrefix(s, Scheme), "@"); i >= 0 {
			head := strings.TrimPrefix(s, Scheme)[:i]
			if j := strings.LastIndex(head, ":"); j > strings.LastIndex(head, "/") {
				out.Tag = head[j+1:]
			}
		}
	} else if r.Reference != "" {
		out.Tag = r.Reference
	} else {
		return Ref{}, fmt.Errorf("profile reference %q: needs a :TAG or an @sha256: digest", s)
	}
	return out, nil
}

// Reference is the tag or digest to resolve: the digest when pinned.
func (r Ref) Reference() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// Pinned reports whether the reference names an immutable digest.
func (r Ref) Pinned() bool { return r.Digest != "" }

// String writes the reference back as oci://….
func (r Ref) String() string {
	s := Scheme + r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}
