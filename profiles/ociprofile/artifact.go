package ociprofile

import (
	"encoding/json"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of a profile artifact (see the package comment and
// docs/fleets.md).
const (
	ArtifactType      = "application/vnd.confine.profile.v1"
	MediaTypeProfile  = "application/vnd.confine.profile.v1+yaml"
	MediaTypeLearned  = "application/vnd.confine.learned.v1+yaml"
	AnnotationName    = "dev.confine.profile.name"
	AnnotationDigest  = "dev.confine.profile.digest"
	MaxManifestBytes  = 64 << 10
	MaxLayerBytes     = 1 << 20
	maxArtifactLayers = 8
)

// ErrNotProfile is returned for a manifest that is not a confine profile.
var ErrNotProfile = errors.New("not a confine profile artifact")

// Layers names the descriptors of a profile manifest that matter.
type Layers struct {
	Name    string // the dev.confine.profile.name annotation
	Digest  string // the manifest's digest (set by the client)
	Profile ocispec.Descriptor
	Learned *ocispec.Descriptor
}

// ParseManifest checks that data is an OCI image manifest of a confine
// profile and returns its layers. Data comes from a registry: every field
// is checked, nothing is trusted.
func ParseManifest(data []byte) (*Layers, error) {
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("manifest: %d bytes is over the %d limit", len(data), MaxManifestBytes)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest: schemaVersion %d, want 2", m.SchemaVersion)
	}
	if m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("manifest: mediaType %q: %w", m.MediaType, ErrNotProfile)
	}
	if m.ArtifactType != ArtifactType && m.Config.MediaType != ArtifactType {
		return nil, fmt.Errorf("manifest: artifactType %q (config %q), want %q: %w", m.ArtifactType, m.Config.MediaType, ArtifactType, ErrNotProfile)
	}
	if len(m.Layers) == 0 || len(m.Layers) > maxArtifactLayers {
		return nil, fmt.Errorf("manifest: %d layers, want 1 to %d", len(m.Layers), maxArtifactLayers)
	}
	out := &Layers{Name: m.Annotations[AnnotationName]}
	found := false
	for i, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("manifest: layers[%d].digest: %w", i, err)
		}
		if l.Size < 0 || l.Size > MaxLayerBytes {
			return nil, fmt.Errorf("manifest: layers[%d].size %d is outside 0..%d", i, l.Size, MaxLayerBytes)
		}
		switch l.MediaType {
		case MediaTypeProfile:
			if found {
				return nil, fmt.Errorf("manifest: layers[%d]: a second %s layer", i, MediaTypeProfile)
			}
			out.Profile, found = l, true
		case MediaTypeLearned:
			if out.Learned != nil {
				return nil, fmt.Errorf("manifest: layers[%d]: a second %s layer", i, MediaTypeLearned)
			}
			d := l
			out.Learned = &d
		}
	}
	if !found {
		return nil, fmt.Errorf("manifest: no %s layer", MediaTypeProfile)
	}
	return out, nil
}
