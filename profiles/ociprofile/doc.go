// Package ociprofile publishes confine profiles to an OCI registry and
// pulls them back, verified: the one package that talks to registries.
//
// A profile is an OCI 1.1 image manifest with
//
//	artifactType  application/vnd.confine.profile.v1
//	config        application/vnd.oci.empty.v1+json ({})
//	layers[0]     application/vnd.confine.profile.v1+yaml   the profile (confine/v1 YAML)
//	layers[1]     application/vnd.confine.learned.v1+yaml   optional: the learned profile behind it
//
// and the annotations dev.confine.profile.name and dev.confine.profile.digest
// (profiles.Digest of the profile when it was pushed).
//
// Signatures use cosign's key-based "simple signing" layout: the manifest
// tagged sha256-<hex of the artifact digest>.sig in the same repository, one
// layer of type application/vnd.dev.cosign.simplesigning.v1+json whose blob
// is the payload naming the artifact digest, with the base64 signature in the
// layer annotation dev.cosignproject.cosign/signature. We chose it over a
// sigstore bundle attached as an OCI 1.1 referrer because it needs nothing
// from the registry beyond tags (CNCF distribution 2.8, Debian's
// docker-registry, has no referrers API), and because `cosign sign --key` and
// `cosign verify --key` read and write exactly this layout: either tool can
// sign what the other verifies. Signing and verification go through
// sigstore/sigstore's signature package (ECDSA, Ed25519 or RSA keys; cosign's
// encrypted private keys with COSIGN_PASSWORD).
package ociprofile
