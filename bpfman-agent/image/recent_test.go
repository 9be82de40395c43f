package image_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// A pass fetches the images its programs run on every change: the store
// keeps the objects it decoded last and serves them without reading the
// layout again (here moved away), except under Always, which pulls. It
// holds a bounded number: the oldest of many is read from the layout.
func TestFetchServesRecentObjectsFromMemory(t *testing.T) {
	ctx := context.Background()
	host, stop := startRegistry(t, nil)
	refs := pushVersions(t, host+"/bpf/counter", 20)
	store, dir := newStore(t)
	for _, ref := range refs {
		if _, err := store.Fetch(ctx, ref, nil, image.PullIfNotPresent); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	blobs := filepath.Join(dir, "blobs")
	if err := os.Rename(blobs, blobs+".away"); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(blobs+".away", blobs)

	last := refs[len(refs)-1]
	obj, err := store.Fetch(ctx, last, nil, image.PullNever)
	if err != nil {
		t.Fatalf("the last image fetched, with its layout moved away: %v", err)
	}
	if want := counterBytecode(t).Object; !bytes.Equal(obj.ELF, want) || !obj.FromCache || obj.Digest == "" {
		t.Errorf("from memory: ELF equal %v, FromCache %v, Digest %q; want the object, true, its digest",
			bytes.Equal(obj.ELF, want), obj.FromCache, obj.Digest)
	}
	if _, err := store.Fetch(ctx, last, nil, image.PullAlways); err == nil {
		t.Error("Always with the registry stopped succeeded: it did not pull")
	}
	if _, err := store.Fetch(ctx, refs[0], nil, image.PullNever); err == nil {
		t.Errorf("the first of %d images is still held in memory: the store keeps every object it fetched", len(refs))
	}
}
