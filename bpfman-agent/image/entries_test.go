package image_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/internal/oci"
)

var limitsJSON = []byte(`[{"key": 1, "value": {"limit": 100}}, {"key": 2, "value": {"limit": 5}}]`)

// pushEntries pushes list with oci.PushEntries and returns the pinned
// reference.
func pushEntries(t *testing.T, ref string, list []byte) string {
	t.Helper()
	dgst, err := oci.PushEntries(context.Background(), ref, list, nil)
	if err != nil {
		t.Fatal(err)
	}
	return oci.Pinned(ref, dgst)
}

// pushLikeOras pushes layer as `oras push ref entries.json:<mediaType>
// --artifact-type application/vnd.bpfleet.map.entries.v1` does, and returns
// the pinned reference.
func pushLikeOras(t *testing.T, ref, mediaType string, layer []byte) string {
	t.Helper()
	ctx := context.Background()
	repo, err := oci.NewRepository(ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(mediaType, layer)
	desc.Annotations = map[string]string{ocispec.AnnotationTitle: "entries.json"}
	if err := repo.Push(ctx, desc, bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	manifest, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, oci.ArtifactTypeMapEntries,
		oras.PackManifestOptions{Layers: []ocispec.Descriptor{desc}})
	if err != nil {
		t.Fatal(err)
	}
	return oci.Pinned(ref, manifest.Digest.String())
}

func TestFetchEntriesThenCache(t *testing.T) {
	ctx := context.Background()
	host, stop := startRegistry(t, nil)
	pinned := pushEntries(t, host+"/policy/limits:v1", limitsJSON)
	dgst := pinned[strings.LastIndex(pinned, "@")+1:]
	store, dir := newStore(t)

	_, err := store.FetchEntries(ctx, pinned, nil, image.PullNever)
	if !errors.Is(err, image.ErrNotCached) {
		t.Fatalf("Never on an empty cache: %v, want ErrNotCached", err)
	}
	got, err := store.FetchEntries(ctx, pinned, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, got, dgst, false)

	stop()
	got, err = store.FetchEntries(ctx, host+"/mirror/elsewhere@"+dgst, nil, image.PullIfNotPresent)
	if err != nil {
		t.Fatalf("second fetch with the registry stopped: %v", err)
	}
	checkEntries(t, got, dgst, true)
	reopened, err := image.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = reopened.FetchEntries(ctx, pinned, nil, image.PullNever); err != nil {
		t.Fatalf("fetch from a reopened store: %v", err)
	}
	checkEntries(t, got, dgst, true)
}

func checkEntries(t *testing.T, got *image.Entries, dgst string, fromCache bool) {
	t.Helper()
	if !bytes.Equal(got.JSON, limitsJSON) {
		t.Errorf("JSON %q, want %q", got.JSON, limitsJSON)
	}
	if got.Digest != dgst || got.FromCache != fromCache {
		t.Errorf("Digest %s FromCache %v, want %s %v", got.Digest, got.FromCache, dgst, fromCache)
	}
}

// TestFetchEntriesLayerForms checks the artifacts PushEntries and the oras
// CLI build, and a gzip'd layer whose media type does not say so.
func TestFetchEntriesLayerForms(t *testing.T) {
	host, _ := startRegistry(t, nil)
	ref := host + "/policy/limits:v1"
	for name, pinned := range map[string]string{
		"PushEntries":             pushEntries(t, ref, limitsJSON),
		"oras push":               pushLikeOras(t, ref, oci.MediaTypeMapEntries, limitsJSON),
		"gzip'd as plain":         pushLikeOras(t, ref, oci.MediaTypeMapEntries, gzipOf(t, limitsJSON)),
		"plain as gzip'd":         pushLikeOras(t, ref, oci.MediaTypeMapEntriesGzip, limitsJSON),
		"leading JSON whitespace": pushLikeOras(t, ref, oci.MediaTypeMapEntries, append([]byte(" \r\n\t"), limitsJSON...)),
	} {
		t.Run(name, func(t *testing.T) {
			store, _ := newStore(t)
			got, err := store.FetchEntries(context.Background(), pinned, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(got.JSON), limitsJSON) {
				t.Fatalf("JSON %q", got.JSON)
			}
		})
	}
}

func TestFetchEntriesRefusals(t *testing.T) {
	host, _ := startRegistry(t, nil)
	ref := host + "/refused/x:v1"
	bomb := append([]byte("["), bytes.Repeat([]byte(" "), 8<<20)...)
	tests := []struct {
		name   string
		ref    string
		opts   []image.Option
		reason string
		msg    string
	}{
		{"bytecode image", push(t, ref, counterBytecode(t), nil), nil, image.ReasonInvalid,
			`layer media type "application/vnd.oci.image.layer.v1.tar+gzip" is not a map entries list (want application/vnd.bpfleet.map.entries.v1+json); is this a bytecode image?`},
		{"JSON object", pushEntries(t, ref, []byte(` {"key": 1, "value": 2}`)), nil, image.ReasonInvalid, `is not a JSON array (first bytes: "{\"key\": 1,`},
		{"empty", pushEntries(t, ref, nil), nil, image.ReasonInvalid, "is not a JSON array"},
		{"bad gzip", pushLikeOras(t, ref, oci.MediaTypeMapEntriesGzip, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2}), nil, image.ReasonInvalid, "bad gzip stream"},
		{"gzip bomb", pushEntries(t, ref, bomb), []image.Option{image.WithMaxEntriesSize(64 << 10)}, image.ReasonTooLarge, "decompresses to more than 65536 bytes"},
		{"oversize plain", pushLikeOras(t, ref, oci.MediaTypeMapEntries, bomb[:100<<10]), []image.Option{image.WithMaxEntriesSize(64 << 10)}, image.ReasonTooLarge, "more than 65536 bytes"},
		{"oversize layer", pushEntries(t, ref, limitsJSON), []image.Option{image.WithMaxLayerSize(10)}, image.ReasonTooLarge, "limit of 10"},
		{"tag", host + "/policy/limits:v1", nil, image.ReasonInvalid, "not pinned to a digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, _ := newStore(t, tt.opts...)
			_, err := store.FetchEntries(context.Background(), tt.ref, nil, "")
			wantReason(t, err, tt.reason)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

// TestFetchEntriesAsBytecode fetches map entries artifacts as a bytecode
// image, a mistake a user makes by pasting the wrong reference.
func TestFetchEntriesAsBytecode(t *testing.T) {
	host, _ := startRegistry(t, nil)
	ref := host + "/policy/limits:v1"
	for _, pinned := range []string{
		pushEntries(t, ref, limitsJSON),
		pushLikeOras(t, ref, oci.MediaTypeMapEntries, limitsJSON),
	} {
		store, _ := newStore(t)
		_, err := store.Fetch(context.Background(), pinned, nil, "")
		wantReason(t, err, image.ReasonInvalid)
		if want := "is a map entries list, not bytecode"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
