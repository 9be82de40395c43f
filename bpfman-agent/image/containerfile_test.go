package image_test

import (
	"bytes"
	"context"
	"io"
	"maps"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// containerfileImage builds what `docker build` makes of bpfman's
// Containerfile.bytecode: FROM scratch, LABEL io.ebpf.programs/maps,
// COPY <object> / — docker media types, one tar+gzip layer.
func containerfileImage(t *testing.T, object []byte) v1.Image {
	t.Helper()
	layerTar := tarOf(t, entry{name: "counter.o", data: object})
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.DockerLayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Labels: maps.Clone(counterLabels)})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushV1 pushes a go-containerregistry image to ref (a tag reference).
func pushV1(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	blobs := map[digest.Digest][]byte{}
	config, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	blobs[digest.FromBytes(config)] = config
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		b := readLayer(t, l)
		blobs[digest.FromBytes(b)] = b
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	return pushManifest(t, ref, string(mt), raw, blobs)
}

func readLayer(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchContainerfileImage(t *testing.T) {
	host, _ := startRegistry(t, nil)
	object := readTestdata(t, "counter.o")
	img := containerfileImage(t, object)
	if mt, _ := img.MediaType(); mt != types.DockerManifestSchema2 {
		t.Fatalf("test image has media type %s, want docker's", mt)
	}
	pinned := pushV1(t, host+"/bpfman/counter:latest", img)
	store, _ := newStore(t)
	obj, err := store.Fetch(context.Background(), pinned, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(obj.ELF, object) || obj.Programs["count_openat"] != "tracepoint" {
		t.Fatalf("got %d bytes, programs %v", len(obj.ELF), obj.Programs)
	}
}

// TestFetchIndex checks that an image index (bpfman's multi-architecture
// bytecode images) resolves to this node's entry.
func TestFetchIndex(t *testing.T) {
	host, _ := startRegistry(t, nil)
	little := containerfileImage(t, readTestdata(t, "counter.o"))
	big := containerfileImage(t, readTestdata(t, "counter_bpfeb.o"))
	pushV1(t, host+"/bpfman/counter:little", little)
	pushV1(t, host+"/bpfman/counter:big", big)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: big, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: little, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := idx.MediaType()
	pinned := pushManifest(t, host+"/bpfman/counter:multi", string(mt), raw, nil)
	store, _ := newStore(t)
	obj, err := store.Fetch(context.Background(), pinned, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(obj.ELF, readTestdata(t, "counter.o")) || obj.Digest != digest.FromBytes(raw).String() {
		t.Fatalf("got the wrong object or digest %s", obj.Digest)
	}
	if obj, err := store.Fetch(context.Background(), pinned, nil, image.PullNever); err != nil || !obj.FromCache {
		t.Fatalf("index from cache: %v", err)
	}
}
