package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// counterLabels are the labels that describe testdata/counter.o.
var counterLabels = map[string]string{
	oci.LabelPrograms: `{"count_openat":"tracepoint"}`,
	oci.LabelMaps:     `{"openat_count":"array"}`,
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func counterBytecode(t testing.TB) oci.Bytecode {
	return oci.Bytecode{
		FileName: "counter.o",
		Object:   readTestdata(t, "counter.o"),
		Programs: map[string]string{"count_openat": "tracepoint"},
		Maps:     map[string]string{"openat_count": "array"},
	}
}

func startRegistry(t testing.TB, creds *oci.Credentials) (host string, stop func()) {
	t.Helper()
	host, stop, err := ocitest.Start("127.0.0.1:0", creds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return host, stop
}

func newStore(t testing.TB, opts ...image.Option) (*image.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := image.NewStore(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// push pushes b to ref with oci.Push and returns the pinned reference.
func push(t testing.TB, ref string, b oci.Bytecode, creds *oci.Credentials) string {
	t.Helper()
	dgst, err := oci.Push(context.Background(), ref, b, creds)
	if err != nil {
		t.Fatal(err)
	}
	return oci.Pinned(ref, dgst)
}

type entry struct {
	name string
	data []byte
	typ  byte
}

func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.data)), Linkname: "counter.o"}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data[:hdr.Size]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawImage is an image with arbitrary layers and labels, to push images
// that oci.Push would never build.
type rawImage struct {
	layers [][]byte
	labels map[string]string
}

// pushRaw pushes img to ref with OCI media types and returns the pinned
// reference and the descriptors of its layers.
func pushRaw(t *testing.T, ref string, img rawImage) (string, []ocispec.Descriptor) {
	t.Helper()
	config, err := json.Marshal(ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Config:   ocispec.ImageConfig{Labels: img.labels},
	})
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[digest.Digest][]byte{}
	add := func(mediaType string, b []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mediaType, b)
		blobs[d.Digest] = b
		return d
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    add(ocispec.MediaTypeImageConfig, config),
	}
	for _, l := range img.layers {
		m.Layers = append(m.Layers, add(ocispec.MediaTypeImageLayerGzip, l))
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return pushManifest(t, ref, ocispec.MediaTypeImageManifest, raw, blobs), m.Layers
}

// pushManifest pushes blobs, then the manifest, to ref (a tag reference)
// and returns the pinned reference.
func pushManifest(t *testing.T, ref, mediaType string, manifest []byte, blobs map[digest.Digest][]byte) string {
	t.Helper()
	ctx := context.Background()
	repo, err := oci.NewRepository(ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	for d, b := range blobs {
		desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: int64(len(b))}
		if err := repo.Blobs().Push(ctx, desc, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	desc := content.NewDescriptorFromBytes(mediaType, manifest)
	if err := repo.PushReference(ctx, desc, bytes.NewReader(manifest), repo.Reference.Reference); err != nil {
		t.Fatal(err)
	}
	return oci.Pinned(ref, desc.Digest.String())
}

func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	if got := image.ReasonOf(err); got != reason {
		t.Fatalf("error %v: reason %q, want %q", err, got, reason)
	}
}
