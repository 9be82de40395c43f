package oci_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"

	"github.com/bpfleet/bpfleet/internal/oci"
)

var entriesJSON = []byte(`[{"key": 1, "value": {"limit": 100}}, {"key": 2, "value": {"limit": 5}}]`)

func TestPushEntriesResolve(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t, nil)
	ref := host + "/policy/limits:v1"

	pushed, err := oci.PushEntries(ctx, ref, entriesJSON, nil)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := oci.Resolve(ctx, ref, nil)
	if err != nil || resolved != pushed {
		t.Fatalf("Resolve(%s) = %s, %v; pushed %s", ref, resolved, err, pushed)
	}
	again, err := oci.PushEntries(ctx, host+"/other/repo:v2", bytes.Clone(entriesJSON), nil)
	if err != nil || again != pushed {
		t.Fatalf("same entries pushed twice: digests %s and %s (%v)", pushed, again, err)
	}
	byDigest, err := oci.PushEntries(ctx, oci.Pinned(ref, pushed), entriesJSON, nil)
	if err != nil || byDigest != pushed {
		t.Fatalf("push by digest = %s, %v; want %s", byDigest, err, pushed)
	}
}

// TestPushEntriesShape reads the artifact back as a registry client would.
func TestPushEntriesShape(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t, nil)
	ref := host + "/policy/limits:v1"
	if _, err := oci.PushEntries(ctx, ref, entriesJSON, nil); err != nil {
		t.Fatal(err)
	}
	repo, err := oci.NewRepository(ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(fetch(t, repo.Manifests(), "v1"), &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.ArtifactType != oci.ArtifactTypeMapEntries {
		t.Errorf("manifest mediaType %q artifactType %q", m.MediaType, m.ArtifactType)
	}
	if m.Config.Digest != ocispec.DescriptorEmptyJSON.Digest || m.Config.MediaType != ocispec.MediaTypeEmptyJSON {
		t.Errorf("config %+v, want the empty descriptor", m.Config)
	}
	if got := fetch(t, repo.Blobs(), m.Config.Digest.String()); string(got) != "{}" {
		t.Errorf("config blob %q, want {}", got)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != oci.MediaTypeMapEntriesGzip {
		t.Fatalf("layers %+v, want one %s", m.Layers, oci.MediaTypeMapEntriesGzip)
	}
	zr, err := gzip.NewReader(bytes.NewReader(fetch(t, repo.Blobs(), m.Layers[0].Digest.String())))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, entriesJSON) {
		t.Fatalf("layer decompresses to %q, %v", got, err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header name %q mtime %v, want neither", zr.Name, zr.ModTime)
	}
}

// fetch returns the content that reference (a tag or digest) names in f.
func fetch(t *testing.T, f registry.ReferenceFetcher, reference string) []byte {
	t.Helper()
	desc, rc, err := f.FetchReference(context.Background(), reference)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := content.ReadAll(rc, desc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
