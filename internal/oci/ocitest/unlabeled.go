package ocitest

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/bpfleet/bpfleet/internal/oci"
)

// PushUnlabeled pushes object to ref (a tag reference, on a registry
// without credentials) as an image whose config has no labels, as one
// built for an older bpfman or by hand: one layer, the bare ELF. It
// returns the manifest's digest.
func PushUnlabeled(tb testing.TB, ref string, object []byte) string {
	tb.Helper()
	ctx := context.Background()
	repo, err := oci.NewRepository(ref, nil)
	if err != nil {
		tb.Fatal(err)
	}
	config := []byte(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`)
	blobs := []ocispec.Descriptor{
		content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, config),
		content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayer, object),
	}
	for i, data := range [][]byte{config, object} {
		if err := repo.Push(ctx, blobs[i], bytes.NewReader(data)); err != nil {
			tb.Fatal(err)
		}
	}
	raw, err := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: blobs[0], Layers: blobs[1:]})
	if err != nil {
		tb.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := repo.PushReference(ctx, desc, bytes.NewReader(raw), repo.Reference.Reference); err != nil {
		tb.Fatal(err)
	}
	return desc.Digest.String()
}
