package cosign

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Bounds on what Verify reads from the registry, an untrusted party.
const (
	maxManifestSize = 1 << 20
	maxPayloadSize  = 64 << 10
	// maxSignatures is how many signatures of an image are checked.
	maxSignatures = 64
)

var (
	// ErrUnsigned is wrapped by Verify's error when the image has no
	// signature at all.
	ErrUnsigned = errors.New("image is not signed")
	// ErrNoValidSignature is wrapped by Verify's error when the image has
	// signatures but none verifies with the keys.
	ErrNoValidSignature = errors.New("no signature verifies with the keys")
)

// fetchError is a payload the registry did not serve.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// Key is a public key that signatures are checked against, and the name
// that reports say it by (a file, or a Secret "namespace/name").
type Key struct {
	Name   string
	Public crypto.PublicKey
}

// Signature is one signature of an image that verified.
type Signature struct {
	// Key is the name of the key it verified with.
	Key string
	// Layer is the digest of its payload in the signature manifest.
	Layer digest.Digest
}

// Verify checks that the manifest dgst names has a cosign signature, in
// target (the image's repository, or an OCI layout), that verifies with one
// of keys and signs dgst. It returns the signatures that verified. An error
// wrapping ErrUnsigned or ErrNoValidSignature means the image is not
// signed as asked; any other error, that the signatures could not be read.
func Verify(ctx context.Context, target oras.ReadOnlyTarget, dgst digest.Digest, keys []Key) ([]Signature, error) {
	if len(keys) == 0 {
		return nil, errors.New("verify: no keys given")
	}
	layers, err := signatureLayers(ctx, target, dgst)
	if err != nil {
		return nil, err
	}
	var valid []Signature
	var firstErr, fetchErr error
	for _, l := range layers {
		sig, err := verifyLayer(ctx, target, l, dgst, keys)
		var fe *fetchError
		switch {
		case err == nil:
			valid = append(valid, sig)
		case errors.As(err, &fe) && fetchErr == nil:
			fetchErr = err
		case firstErr == nil:
			firstErr = err
		}
	}
	switch {
	case len(valid) > 0:
		return valid, nil
	case fetchErr != nil:
		return nil, fetchErr // the registry could not be read: not a verdict
	}
	return nil, fmt.Errorf("%w %s: %d signature(s), none valid (%v)", ErrNoValidSignature, keyNames(keys), len(layers), firstErr)
}

// Count returns how many signatures the image dgst names has in target,
// valid or not.
func Count(ctx context.Context, target oras.ReadOnlyTarget, dgst digest.Digest) (int, error) {
	layers, err := signatureLayers(ctx, target, dgst)
	if errors.Is(err, ErrUnsigned) {
		return 0, nil
	}
	return len(layers), err
}

// signatureLayers returns the signature layers of the manifest tagged
// SignatureTag(dgst).
func signatureLayers(ctx context.Context, target oras.ReadOnlyTarget, dgst digest.Digest) ([]ocispec.Descriptor, error) {
	m, found, err := fetchSignatures(ctx, target, dgst)
	if err != nil {
		return nil, err
	}
	var layers []ocispec.Descriptor
	for _, l := range m.Layers {
		if l.MediaType == MediaTypeSimpleSigning {
			layers = append(layers, l)
		}
	}
	if !found || len(layers) == 0 {
		return nil, fmt.Errorf("%w: no signature at tag %s", ErrUnsigned, SignatureTag(dgst))
	}
	// Only the first signatures count: a tag stuffed with more costs no more
	// to check.
	return layers[:min(len(layers), maxSignatures)], nil
}

// fetchSignatures reads the signature manifest of dgst, and whether there is
// one.
func fetchSignatures(ctx context.Context, target oras.ReadOnlyTarget, dgst digest.Digest) (ocispec.Manifest, bool, error) {
	var m ocispec.Manifest
	tag := SignatureTag(dgst)
	desc, err := target.Resolve(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("signatures %s: %w", tag, err)
	}
	if desc.Size > maxManifestSize {
		return m, false, fmt.Errorf("%w: signature manifest %s is %d bytes, more than the limit of %d", ErrNoValidSignature, tag, desc.Size, maxManifestSize)
	}
	raw, err := content.FetchAll(ctx, target, desc)
	if err != nil {
		return m, false, fmt.Errorf("signatures %s: %w", tag, err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, false, fmt.Errorf("%w: signature manifest %s: %v", ErrNoValidSignature, tag, err)
	}
	return m, true, nil
}

// verifyLayer checks one signature layer against every key.
func verifyLayer(ctx context.Context, target oras.ReadOnlyTarget, l ocispec.Descriptor, dgst digest.Digest, keys []Key) (Signature, error) {
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[AnnotationSignature])
	if err != nil || len(sig) == 0 {
		return Signature{}, fmt.Errorf("layer %s: no base64 %s annotation", l.Digest, AnnotationSignature)
	}
	if l.Size > maxPayloadSize {
		return Signature{}, fmt.Errorf("layer %s: payload of %d bytes, more than the limit of %d", l.Digest, l.Size, maxPayloadSize)
	}
	raw, err := content.FetchAll(ctx, target, l)
	if err != nil {
		return Signature{}, &fetchError{fmt.Errorf("signature payload %s: %w", l.Digest, err)}
	}
	for _, k := range keys {
		if verifyPayload(k.Public, raw, sig) == nil {
			return Signature{Key: k.Name, Layer: l.Digest}, checkPayload(raw, dgst)
		}
	}
	return Signature{}, fmt.Errorf("layer %s: %w with any key", l.Digest, errBadSignature)
}

func keyNames(keys []Key) string {
	if len(keys) == 1 {
		return "(key " + keys[0].Name + ")"
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	return fmt.Sprintf("(keys %v)", names)
}
