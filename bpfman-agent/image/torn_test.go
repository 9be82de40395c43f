package image_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// A cache torn by a crash or a full disk mid-write — index.json cut short,
// a manifest blob of zero bytes — does not stop the agent: the store
// opens, sets the torn part aside, and pulls what it lost again (issue 14).
func TestTornCacheOpensAndHeals(t *testing.T) {
	ctx := context.Background()
	host, _ := startRegistry(t, nil)
	b := counterBytecode(t)
	ref := host + "/bpf/counter:v1"
	dgst, err := oci.Push(ctx, ref, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	pinned := oci.Pinned(ref, dgst)
	for name, tear := range map[string]func(t *testing.T, dir string){
		"index.json cut short": func(t *testing.T, dir string) {
			index := filepath.Join(dir, "index.json")
			data, err := os.ReadFile(index)
			if err != nil {
				t.Fatal(err)
			}
			overwrite(t, index, data[:len(data)/2])
		},
		"zero-length manifest": func(t *testing.T, dir string) {
			overwrite(t, filepath.Join(dir, "blobs", "sha256", dgstHex(dgst)), nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			store, dir := newStore(t)
			if _, err := store.Fetch(ctx, pinned, nil, ""); err != nil {
				t.Fatal(err)
			}
			tear(t, dir)
			healed, err := image.NewStore(dir)
			if err != nil {
				t.Fatalf("open a torn cache: %v", err)
			}
			obj, err := healed.Fetch(ctx, pinned, nil, "")
			if err != nil || !bytes.Equal(obj.ELF, b.Object) {
				t.Fatalf("fetch from a healed cache: %v", err)
			}
			// Healed means kept: the image in use survives a collection.
			if _, err := healed.Collect(ctx, image.Keep{InUse: []string{pinned}}); err != nil {
				t.Fatal(err)
			}
			if _, err := healed.Fetch(ctx, pinned, nil, image.PullNever); err != nil {
				t.Fatalf("the image in use is gone from the healed cache after a collection: %v", err)
			}
		})
	}
}

func dgstHex(d string) string { return d[len("sha256:"):] }
