package ociprofile

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// Options configure registry access.
type Options struct {
	// AuthFile is a docker config.json with the registry credentials; ""
	// means $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
	AuthFile string
	// CAFiles are PEM certificates trusted in addition to the system's.
	CAFiles []string
	// Timeout bounds each request (default 30s).
	Timeout time.Duration
}

// Client talks to registries. It is safe for concurrent use.
type Client struct {
	http  *http.Client
	creds credentials.Store
	cache auth.Cache
}

// NewClient builds a client from options.
func NewClient(o Options) (*Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range o.CAFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading registry CA: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("registry CA %s: no PEM certificate in it", f)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	var store credentials.Store
	if o.AuthFile != "" {
		store, err = credentials.NewStore(o.AuthFile, credentials.StoreOptions{})
	} else {
		store, err = credentials.NewStoreFromDocker(credentials.StoreOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("reading registry credentials: %w", err)
	}
	return &Client{http: &http.Client{Transport: tr, Timeout: o.Timeout}, creds: store, cache: auth.NewCache()}, nil
}

func (c *Client) repo(r Ref) (*remote.Repository, error) {
	repo, err := remote.NewRepository(r.Registry + "/" + r.Repository)
	if err != nil {
		return nil, fmt.Errorf("repository %s/%s: %w", r.Registry, r.Repository, err)
	}
	repo.Client = &auth.Client{
		Client:     c.http,
		Cache:      c.cache,
		Credential: credentials.Credential(c.creds),
		Header:     http.Header{"User-Agent": {"confine"}},
	}
	return repo, nil
}

// Artifact is what a profile artifact carries.
type Artifact struct {
	Name    string // profile name
	Digest  string // profiles.Digest of the profile
	Profile []byte // confine/v1 YAML
	Learned []byte // optional learned profile YAML
}

// Push uploads a profile artifact, tags it, and signs it when signer is not
// nil. It returns the manifest digest.
func (c *Client) Push(ctx context.Context, r Ref, a Artifact, signer signature.Signer) (string, error) {
	if r.Tag == "" || r.Digest != "" {
		return "", fmt.Errorf("pushing to %s: needs a :TAG and no digest", r)
	}
	repo, err := c.repo(r)
	if err != nil {
		return "", err
	}
	layers := []ocispec.Descriptor{}
	push := func(mt string, data []byte, title string) error {
		d := content.NewDescriptorFromBytes(mt, data)
		d.Annotations = map[string]string{ocispec.AnnotationTitle: title}
		if err := repo.Push(ctx, d, bytes.NewReader(data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return fmt.Errorf("pushing %s to %s: %w", title, r, err)
		}
		layers = append(layers, d)
		return nil
	}
	if err := push(MediaTypeProfile, a.Profile, a.Name+".yaml"); err != nil {
		return "", err
	}
	if len(a.Learned) > 0 {
		if err := push(MediaTypeLearned, a.Learned, a.Name+".learned.yaml"); err != nil {
			return "", err
		}
	}
	desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, ArtifactType, oras.PackManifestOptions{
		Layers:              layers,
		ManifestAnnotations: map[string]string{AnnotationName: a.Name, AnnotationDigest: a.Digest},
	})
	if err != nil {
		return "", fmt.Errorf("pushing the manifest to %s: %w", r, err)
	}
	if err := repo.Tag(ctx, desc, r.Tag); err != nil {
		return "", fmt.Errorf("tagging %s: %w", r, err)
	}
	if signer != nil {
		if err := c.Sign(ctx, r, desc.Digest.String(), signer); err != nil {
			return "", err
		}
	}
	return desc.Digest.String(), nil
}

// Sign pushes a cosign simple-signing signature of manifestDigest under
// its sha256-<hex>.sig tag.
func (c *Client) Sign(ctx context.Context, r Ref, manifestDigest string, signer signature.Signer) error {
	pl, err := NewPayload(r.Registry+"/"+r.Repository, manifestDigest)
	if err != nil {
		return err
	}
	sig, err := sign(signer, pl)
	if err != nil {
		return err
	}
	return c.PushSignature(ctx, r, manifestDigest, pl, sig)
}

// PushSignature pushes a signature manifest with the given payload and
// base64 signature under the signature tag of manifestDigest. Sign is the
// ordinary way; tests use this to forge.
func (c *Client) PushSignature(ctx context.Context, r Ref, manifestDigest string, pl []byte, sigB64 string) error {
	repo, err := c.repo(r)
	if err != nil {
		return err
	}
	layer := content.NewDescriptorFromBytes(MediaTypeSimpleSigning, pl)
	layer.Annotations = map[string]string{AnnotationSignature: sigB64}
	if err := repo.Push(ctx, layer, bytes.NewReader(pl)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("pushing the signature payload: %w", err)
	}
	// The image config cosign writes: the payload is the only "layer".
	cfg, _ := json.Marshal(ocispec.Image{
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.Digest}},
	})
	cfgDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, cfg)
	if err := repo.Push(ctx, cfgDesc, bytes.NewReader(cfg)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("pushing the signature config: %w", err)
	}
	m, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layer},
	})
	mDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, m)
	if err := repo.PushReference(ctx, mDesc, bytes.NewReader(m), SignatureTag(manifestDigest)); err != nil {
		return fmt.Errorf("pushing the signature of %s: %w", manifestDigest, err)
	}
	return nil
}

// Resolve returns the manifest digest a reference points to (one HEAD
// request; a pinned reference resolves to itself).
func (c *Client) Resolve(ctx context.Context, r Ref) (string, error) {
	repo, err := c.repo(r)
	if err != nil {
		return "", err
	}
	d, err := repo.Resolve(ctx, r.Reference())
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", r, err)
	}
	if r.Digest != "" && d.Digest.String() != r.Digest {
		return "", fmt.Errorf("resolving %s: registry answered %s", r, d.Digest)
	}
	return d.Digest.String(), nil
}

// Policy says which signatures are needed.
type Policy struct {
	Keys    []signature.Verifier
	Require bool // refuse unsigned artifacts
}

// Pulled is a fetched, checked artifact.
type Pulled struct {
	Artifact
	ManifestDigest string
	Signed         bool // a signature verified with one of the keys
}

// Pull fetches the artifact a reference names and checks it: digests of the
// manifest and of every blob, the artifact type, and the signature per
// policy. With keys configured, a signature that is present must verify
// even when not required: a forged signature is a refusal, not "unsigned".
func (c *Client) Pull(ctx context.Context, r Ref, pol Policy) (*Pulled, error) {
	if pol.Require && len(pol.Keys) == 0 {
		return nil, fmt.Errorf("pulling %s: a signature is required but no signature key is configured", r)
	}
	repo, err := c.repo(r)
	if err != nil {
		return nil, err
	}
	layers, err := c.manifest(ctx, repo, r)
	if err != nil {
		return nil, err
	}
	out := &Pulled{ManifestDigest: layers.Digest}
	out.Name = layers.Name
	if err := c.verify(ctx, repo, r, out.ManifestDigest, pol, &out.Signed); err != nil {
		return nil, err
	}
	out.Profile, err = content.FetchAll(ctx, repo, layers.Profile)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: profile layer: %w", r, err)
	}
	if layers.Learned != nil {
		out.Learned, err = content.FetchAll(ctx, repo, *layers.Learned)
		if err != nil {
			return nil, fmt.Errorf("pulling %s: learned layer: %w", r, err)
		}
	}
	return out, nil
}

// verify checks the cosign signatures of manifestDigest.
func (c *Client) verify(ctx context.Context, repo *remote.Repository, r Ref, manifestDigest string, pol Policy, signed *bool) error {
	if len(pol.Keys) == 0 {
		return nil
	}
	sdesc, rc, err := repo.FetchReference(ctx, SignatureTag(manifestDigest))
	if errors.Is(err, errdef.ErrNotFound) {
		if pol.Require {
			return fmt.Errorf("pulling %s (%s): %w (require_signature is on)", r, manifestDigest, ErrUnsigned)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("pulling %s: signature: %w", r, err)
	}
	if sdesc.Size > MaxManifestBytes {
		rc.Close()
		return fmt.Errorf("pulling %s: signature manifest of %d bytes is over the limit", r, sdesc.Size)
	}
	sdata, err := content.ReadAll(rc, sdesc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("pulling %s: signature manifest: %w", r, err)
	}
	sigs, err := ParseSignatureManifest(sdata)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", r, err)
	}
	var last error = ErrBadSignature
	for _, s := range sigs {
		pl, err := content.FetchAll(ctx, repo, s.Payload)
		if err != nil {
			last = fmt.Errorf("signature payload: %w", err)
			continue
		}
		if err := VerifySignature(pol.Keys, pl, s.Signature, manifestDigest); err != nil {
			last = err
			continue
		}
		*signed = true
		return nil
	}
	return fmt.Errorf("pulling %s (%s): %w", r, manifestDigest, last)
}

// Sig is one signature layer of a cosign signature manifest.
type Sig struct {
	Payload   ocispec.Descriptor
	Signature string
}

// ParseSignatureManifest reads a cosign signature manifest (OCI or Docker
// schema 2) and returns its simple-signing layers.
func ParseSignatureManifest(data []byte) ([]Sig, error) {
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("signature manifest: %d bytes is over the %d limit", len(data), MaxManifestBytes)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("signature manifest: %w", err)
	}
	var out []Sig
	for i, l := range m.Layers {
		if l.MediaType != MediaTypeSimpleSigning {
			continue
		}
		if err := l.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("signature manifest: layers[%d].digest: %w", i, err)
		}
		if l.Size < 0 || l.Size > maxPayloadBytes {
			return nil, fmt.Errorf("signature manifest: layers[%d].size %d is outside 0..%d", i, l.Size, maxPayloadBytes)
		}
		sig := l.Annotations[AnnotationSignature]
		if sig == "" {
			continue
		}
		out = append(out, Sig{Payload: l, Signature: sig})
		if len(out) == maxArtifactLayers {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("signature manifest: no signed %s layer: %w", MediaTypeSimpleSigning, ErrUnsigned)
	}
	return out, nil
}

// fetchManifest fetches and checks the manifest a reference names.
func (c *Client) fetchManifest(ctx context.Context, r Ref) (*Layers, error) {
	repo, err := c.repo(r)
	if err != nil {
		return nil, err
	}
	return c.manifest(ctx, repo, r)
}

func (c *Client) manifest(ctx context.Context, repo *remote.Repository, r Ref) (*Layers, error) {
	desc, rc, err := repo.FetchReference(ctx, r.Reference())
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", r, err)
	}
	defer rc.Close()
	if desc.Size > MaxManifestBytes {
		return nil, fmt.Errorf("pulling %s: manifest of %d bytes is over the %d limit", r, desc.Size, MaxManifestBytes)
	}
	mdata, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: manifest: %w", r, err)
	}
	if r.Digest != "" && desc.Digest.String() != r.Digest {
		return nil, fmt.Errorf("pulling %s: registry served %s", r, desc.Digest)
	}
	layers, err := ParseManifest(mdata)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", r, err)
	}
	layers.Digest = desc.Digest.String()
	return layers, nil
}
