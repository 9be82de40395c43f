package oci

import (
	"context"
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The types of a map entries artifact: an OCI image manifest whose one layer
// is a JSON array of {"key": ..., "value": ...} objects, the shape of a
// MapPolicy's spec.entries.
const (
	// ArtifactTypeMapEntries is the manifest's artifactType.
	ArtifactTypeMapEntries = "application/vnd.bpfleet.map.entries.v1"
	// MediaTypeMapEntries is an uncompressed entries layer.
	MediaTypeMapEntries = "application/vnd.bpfleet.map.entries.v1+json"
	// MediaTypeMapEntriesGzip is a gzip'd entries layer, as PushEntries
	// builds it.
	MediaTypeMapEntriesGzip = "application/vnd.bpfleet.map.entries.v1+json+gzip"
)

// PushEntries builds a map entries artifact of entriesJSON (an OCI image
// manifest of artifactType ArtifactTypeMapEntries, the empty JSON config and
// one layer, entriesJSON gzip'd, of type MediaTypeMapEntriesGzip) and pushes
// it to ref, a tag or digest reference. It returns the manifest digest; the
// artifact is reproducible, so the same entriesJSON always has the same
// digest. PushEntries does not check entriesJSON: tests push bad ones.
//
// The stock oras CLI builds an equivalent artifact, with an uncompressed
// layer (and an org.opencontainers.image.title annotation) that the node
// agent accepts as well:
//
//	oras push host/repo:tag entries.json:application/vnd.bpfleet.map.entries.v1+json \
//	  --artifact-type application/vnd.bpfleet.map.entries.v1
func PushEntries(ctx context.Context, ref string, entriesJSON []byte, creds *Credentials) (string, error) {
	a, err := buildEntries(ctx, entriesJSON)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	return a.pushTo(ctx, ref, creds)
}

// buildEntries builds a map entries artifact of entriesJSON.
func buildEntries(ctx context.Context, entriesJSON []byte) (*Artifact, error) {
	compressed, err := gzipped(entriesJSON)
	if err != nil {
		return nil, err
	}
	layer := newBlob(MediaTypeMapEntriesGzip, compressed)
	config := blob{Descriptor: ocispec.DescriptorEmptyJSON, data: ocispec.DescriptorEmptyJSON.Data}
	m, err := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeMapEntries,
		Config:       config.Descriptor,
		Layers:       []ocispec.Descriptor{layer.Descriptor},
	})
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return newArtifact(ctx, newBlob(ocispec.MediaTypeImageManifest, m), config, layer)
}
