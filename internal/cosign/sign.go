package cosign

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Sign signs the manifest dgst names with key and adds the signature to
// the signature manifest in target, as `cosign sign --key` does: existing
// signatures are kept. repo ("registry/name") goes into the payload's
// docker-reference. It returns the digest of the new signature manifest.
func Sign(ctx context.Context, target oras.Target, repo string, dgst digest.Digest, key crypto.Signer) (digest.Digest, error) {
	payload, err := newPayload(repo, dgst)
	if err != nil {
		return "", err
	}
	sig, err := signPayload(key, payload)
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", dgst, err)
	}
	layer := content.NewDescriptorFromBytes(MediaTypeSimpleSigning, payload)
	layer.Annotations = map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(sig)}
	m, found, err := fetchSignatures(ctx, target, dgst)
	if err != nil {
		return "", err
	}
	if found && signedBy(ctx, target, m, dgst, key.Public()) {
		// Signing again would only add a layer; the signature stands.
		desc, err := target.Resolve(ctx, SignatureTag(dgst))
		return desc.Digest, err
	}
	if err := pushIfAbsent(ctx, target, layer, payload); err != nil {
		return "", err
	}
	return pushSignatures(ctx, target, dgst, append(m.Layers, layer))
}

// pushSignatures writes the signature manifest holding layers (their
// payloads already pushed) and tags it SignatureTag(dgst).
func pushSignatures(ctx context.Context, target oras.Target, dgst digest.Digest, layers []ocispec.Descriptor) (digest.Digest, error) {
	config, err := signatureConfig(layers)
	if err != nil {
		return "", err
	}
	configDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, config)
	if err := pushIfAbsent(ctx, target, configDesc, config); err != nil {
		return "", err
	}
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    layers,
	})
	if err != nil {
		return "", err
	}
	desc, err := oras.TagBytes(ctx, target, ocispec.MediaTypeImageManifest, manifest, SignatureTag(dgst))
	if err != nil {
		return "", fmt.Errorf("push signature %s: %w", SignatureTag(dgst), err)
	}
	return desc.Digest, nil
}

// signatureConfig is the image config cosign writes for a signature
// manifest: empty but for the layers' digests.
func signatureConfig(layers []ocispec.Descriptor) ([]byte, error) {
	ids := make([]digest.Digest, len(layers))
	for i, l := range layers {
		ids[i] = l.Digest
	}
	return json.Marshal(ocispec.Image{RootFS: ocispec.RootFS{Type: "layers", DiffIDs: ids}})
}

func pushIfAbsent(ctx context.Context, target oras.Target, desc ocispec.Descriptor, data []byte) error {
	err := target.Push(ctx, desc, bytes.NewReader(data))
	if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("push %s: %w", desc.Digest, err)
	}
	return nil
}

// signedBy reports whether the signature manifest m already holds a
// signature of dgst by pub.
func signedBy(ctx context.Context, target oras.ReadOnlyTarget, m ocispec.Manifest, dgst digest.Digest, pub crypto.PublicKey) bool {
	for _, l := range m.Layers {
		if l.MediaType != MediaTypeSimpleSigning {
			continue
		}
		if _, err := verifyLayer(ctx, target, l, dgst, []Key{{Public: pub}}); err == nil {
			return true
		}
	}
	return false
}
