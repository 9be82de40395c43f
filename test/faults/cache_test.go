package faults

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// pushCounter pushes the tracepoint counter to the suite's registry as
// repo:tag, with padding random bytes after the object (its ELF reads
// the same; the layer cannot be compressed below them), and returns the
// tag reference and the manifest digest.
func pushCounter(t *testing.T, s *suite, repo, tag string, padding int) (ref, digest string) {
	t.Helper()
	obj := slices.Clone(bpf.TracepointCounter)
	if padding > 0 {
		pad := make([]byte, padding)
		if _, err := rand.Read(pad); err != nil {
			t.Fatal(err)
		}
		obj = append(obj, pad...)
	}
	img, err := oci.BytecodeFromELF("counter.o", "", obj)
	if err != nil {
		t.Fatal(err)
	}
	ref = s.stack.Registry + "/faults/" + repo + ":" + tag
	if digest, err = oci.Push(context.Background(), ref, img, nil); err != nil {
		t.Fatal(err)
	}
	return ref, digest
}

// counterFrom is a tracepoint counter whose bytecode is the image ref.
func counterFrom(s *suite, name, ref string) *bpfleetv1.TracepointProgram {
	tp := tracepointCounter(s, name)
	tp.Spec.ByteCode.Image.Ref = ref
	return tp
}

// cache is what an image cache directory holds, read from its files.
type cache struct {
	// index lists the manifest digests index.json names; nil if it
	// cannot be read.
	index []string
	// blobs maps each blob's digest to its size.
	blobs map[string]int64
	// damaged lists the blobs whose content is not their name.
	damaged []string
	// ingest counts the files left in ingest/; ingested names them, with
	// their sizes.
	ingest   int
	ingested []string
}

func readCache(t *testing.T, dir string) cache {
	t.Helper()
	c := cache{blobs: map[string]int64{}}
	if b, err := os.ReadFile(filepath.Join(dir, "index.json")); err == nil {
		var index ocispec.Index
		if json.Unmarshal(b, &index) == nil {
			c.index = []string{}
			for _, m := range index.Manifests {
				c.index = append(c.index, m.Digest.String())
			}
		}
	}
	blobDir := filepath.Join(dir, "blobs", "sha256")
	entries, err := os.ReadDir(blobDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(blobDir, e.Name()))
		if os.IsNotExist(err) {
			continue // collected meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != e.Name() {
			c.damaged = append(c.damaged, e.Name())
		}
		c.blobs["sha256:"+e.Name()] = int64(len(b))
	}
	ingest, _ := os.ReadDir(filepath.Join(dir, "ingest"))
	c.ingest = len(ingest)
	for _, e := range ingest {
		if info, err := e.Info(); err == nil {
			c.ingested = append(c.ingested, fmt.Sprintf("%s (%d bytes)", e.Name(), info.Size()))
		}
	}
	return c
}

// bytes is the size of the blobs held.
func (c cache) bytes() int64 {
	var n int64
	for _, size := range c.blobs {
		n += size
	}
	return n
}

// holds reports whether the cache holds the image manifest names whole:
// listed in index.json, its manifest, config and layer there, intact.
func (c cache) holds(t *testing.T, dir, manifest string) bool {
	if !slices.Contains(c.index, manifest) || slices.Contains(c.damaged, manifest[len("sha256:"):]) {
		return false
	}
	for _, d := range imageBlobs(t, dir, manifest) {
		if _, ok := c.blobs[d]; !ok || slices.Contains(c.damaged, d[len("sha256:"):]) {
			return false
		}
	}
	return true
}

// imageBlobs are the digests of the image manifest names: the manifest,
// its config and layers, as the cached manifest lists them; only the
// manifest if it is not cached.
func imageBlobs(t *testing.T, dir, manifest string) []string {
	t.Helper()
	out := []string{manifest}
	b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", manifest[len("sha256:"):]))
	if err != nil {
		return out
	}
	var m ocispec.Manifest
	if json.Unmarshal(b, &m) != nil {
		return out
	}
	out = append(out, m.Config.Digest.String())
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

// holdsOnly reports whether the cache holds the images manifests name,
// whole, and nothing else: no other blob, no index entry, nothing in
// ingest/.
func (c cache) holdsOnly(t *testing.T, dir string, manifests ...string) bool {
	var want []string
	for _, m := range manifests {
		if !c.holds(t, dir, m) {
			return false
		}
		want = append(want, imageBlobs(t, dir, m)...)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	index := slices.Sorted(slices.Values(c.index))
	sorted := slices.Sorted(slices.Values(manifests))
	return len(c.blobs) == len(want) && slices.Equal(index, sorted) && c.ingest == 0
}

// settleCache waits until the image cache in dir holds the images
// manifests name and nothing else, and ok holds; it says what the cache
// held if that never happens.
func (h *host) settleCache(what, dir string, manifests []string, ok func(context.Context) bool) {
	t := h.t
	t.Helper()
	var last cache
	defer func() {
		if t.Failed() {
			t.Logf("image cache %s: index %v, blobs %v, damaged %v, in ingest/ %v; want %v",
				dir, last.index, last.blobs, last.damaged, last.ingested, manifests)
		}
	}()
	h.settle(what, func(ctx context.Context) bool {
		last = readCache(t, dir)
		return last.holdsOnly(t, dir, manifests...) && ok(ctx)
	})
}
