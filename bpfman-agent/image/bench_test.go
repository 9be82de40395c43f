package image_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// BenchmarkFetchCached is a node pass's fetch of an image the node already
// holds (the warm path every change takes), beside the raw baseline of
// reading the same object's bytes from a file (image.ReadPath).
func BenchmarkFetchCached(b *testing.B) {
	ctx := context.Background()
	host, _ := startRegistry(b, nil)
	bc := counterBytecode(b)
	pinned := push(b, host+"/bpf/counter:v1", bc, nil)
	store, dir := newStore(b)
	if _, err := store.Fetch(ctx, pinned, nil, image.PullIfNotPresent); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "counter.o")
	if err := os.WriteFile(path, bc.Object, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			if _, err := store.Fetch(ctx, pinned, nil, image.PullIfNotPresent); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("file", func(b *testing.B) {
		for b.Loop() {
			if _, err := image.ReadPath(path); err != nil {
				b.Fatal(err)
			}
		}
	})
}
