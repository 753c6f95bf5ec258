package ociprofile

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// cosign's simple-signing layout.
const (
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	AnnotationSignature    = "dev.cosignproject.cosign/signature"
	simpleSigningType      = "cosign container image signature"
	maxPayloadBytes        = 16 << 10
)

// Signature errors callers branch on.
var (
	ErrUnsigned     = errors.New("no signature")
	ErrBadSignature = errors.New("no signature verifies with the configured keys")
)

// payload is cosign's simple-signing payload.
type payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// SignatureTag is the tag cosign gives the signatures of a manifest digest.
func SignatureTag(manifestDigest string) string {
	return strings.Replace(manifestDigest, ":", "-", 1) + ".sig"
}

// NewPayload builds the simple-signing payload for an artifact digest in
// repository host/repo.
func NewPayload(repo, manifestDigest string) ([]byte, error) {
	var p payload
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = manifestDigest
	p.Critical.Type = simpleSigningType
	return json.Marshal(p)
}

// ParsePayload reads a simple-signing payload and returns the manifest
// digest it vouches for.
func ParsePayload(data []byte) (string, error) {
	if len(data) > maxPayloadBytes {
		return "", fmt.Errorf("signature payload: %d bytes is over the %d limit", len(data), maxPayloadBytes)
	}
	var p payload
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return "", fmt.Errorf("signature payload: %w", err)
	}
	if p.Critical.Type != simpleSigningType {
		return "", fmt.Errorf("signature payload: type %q, want %q", p.Critical.Type, simpleSigningType)
	}
	if p.Critical.Image.DockerManifestDigest == "" {
		return "", errors.New("signature payload: no docker-manifest-digest")
	}
	return p.Critical.Image.DockerManifestDigest, nil
}

// LoadSigner reads a PEM private key (PKCS#8, SEC 1, PKCS#1, or cosign's
// encrypted format, whose password comes from COSIGN_PASSWORD).
func LoadSigner(path string) (signature.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	pass := func(bool) ([]byte, error) { return []byte(os.Getenv("COSIGN_PASSWORD")), nil }
	key, err := cryptoutils.UnmarshalPEMToPrivateKey(data, pass)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	s, err := signature.LoadSigner(key, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return s, nil
}

// LoadVerifiers reads PEM public keys (cosign.pub and the like).
func LoadVerifiers(paths []string) ([]signature.Verifier, error) {
	var out []signature.Verifier
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading signature key: %w", err)
		}
		v, err := ParseVerifier(data)
		if err != nil {
			return nil, fmt.Errorf("signature key %s: %w", p, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// ParseVerifier reads one PEM public key.
func ParseVerifier(pemData []byte) (signature.Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemData)
	if err != nil {
		return nil, err
	}
	return signature.LoadVerifier(pub, crypto.SHA256)
}

// sign returns the base64 signature of payload, as cosign annotates it.
func sign(s signature.Signer, data []byte) (string, error) {
	sig, err := s.SignMessage(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifySignature checks one signature layer: the base64 signature over the
// payload must verify with one of the keys, and the payload must name the
// artifact digest (a signature copied from another artifact is refused).
func VerifySignature(keys []signature.Verifier, data []byte, sigB64, manifestDigest string) error {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return fmt.Errorf("signature: not base64: %w", err)
	}
	ok := false
	for _, k := range keys {
		if k.VerifySignature(bytes.NewReader(sig), bytes.NewReader(data)) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return ErrBadSignature
	}
	d, err := ParsePayload(data)
	if err != nil {
		return err
	}
	if d != manifestDigest {
		return fmt.Errorf("signature is for %s, not %s: %w", d, manifestDigest, ErrBadSignature)
	}
	return nil
}
