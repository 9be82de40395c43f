package cosign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/bpfleet/bpfleet/internal/cosign"
)

// FuzzVerify serves arbitrary bytes as the signature manifest and as one
// payload: Verify must refuse them (they are not signed by the key) without
// panicking, and never accept them.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"layers":[]}`), []byte(`{}`), "MEUCIQ==")
	f.Add([]byte(`{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"sha256:0","size":2}]}`), []byte(`{}`), "")
	f.Add([]byte(`not json`), []byte(`{"critical":{"type":"cosign container image signature"}}`), "AAAA")
	_, pub := keyPair(f)
	f.Fuzz(func(t *testing.T, manifest, payload []byte, sig string) {
		ctx := context.Background()
		store, dgst := image(t)
		layer := content.NewDescriptorFromBytes(cosign.MediaTypeSimpleSigning, payload)
		if err := store.Push(ctx, layer, bytesReader(payload)); err != nil {
			t.Fatal(err)
		}
		withLayer := manifestWith(manifest, layer, sig)
		for _, m := range [][]byte{manifest, withLayer} {
			if _, err := oras.TagBytes(ctx, store, "application/octet-stream", m, cosign.SignatureTag(dgst)); err != nil {
				t.Fatal(err)
			}
			_, err := cosign.Verify(ctx, store, dgst, []cosign.Key{pub})
			if err == nil {
				t.Fatalf("verified a signature no key made: %q", m)
			}
			if !errors.Is(err, cosign.ErrUnsigned) && !errors.Is(err, cosign.ErrNoValidSignature) {
				t.Fatalf("error neither unsigned nor invalid: %v", err)
			}
		}
	})
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// manifestWith returns a signature manifest naming layer, with sig as its
// signature annotation.
func manifestWith(fuzzed []byte, layer ocispec.Descriptor, sig string) []byte {
	layer.Annotations = map[string]string{cosign.AnnotationSignature: sig, "fuzz": string(fuzzed)}
	m, _ := json.Marshal(ocispec.Manifest{Layers: []ocispec.Descriptor{layer}})
	return m
}
