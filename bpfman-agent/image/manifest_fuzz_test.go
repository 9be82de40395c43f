package image

import (
	"context"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// FuzzWalk feeds the manifest and index parser an arbitrary root (manifest
// or index) and an arbitrary child that every index entry is served as:
// it must return an image whose config and layer are within the limits, or
// an *Error, never panic.
func FuzzWalk(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}]}`), []byte(nil))
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:0","size":9,"platform":{"os":"linux","architecture":"amd64"}}]}`), []byte(`{"schemaVersion":2}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"size":-1,"platform":{"os":"linux","architecture":"amd64"}}]}`), []byte(`{}`))
	f.Add([]byte(`{"schemaVersion":1}`), []byte(nil))
	l := limits{manifest: 1 << 12, layer: 1 << 16, object: 1 << 16, entries: 1 << 16}
	f.Fuzz(func(t *testing.T, root, child []byte) {
		// Every index entry is served as child, whatever digest it names:
		// the fetcher checks it as the store does.
		fetch := func(_ context.Context, desc ocispec.Descriptor, limit int64) ([]byte, error) {
			if int64(len(child)) > limit {
				return nil, newError(ReasonTooLarge, "too large")
			}
			return child, verify(desc.Digest, child)
		}
		n := node{Descriptor: content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, root), data: root}
		_, img, err := walk(context.Background(), n, fetch, l)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if img.config.Size > l.manifest || img.layer.Size > l.layer || img.config.Size < 0 || img.layer.Size < 0 {
			t.Fatalf("image over the limits: %+v", img)
		}
		if img.config.Digest.Validate() != nil || img.layer.Digest.Validate() != nil {
			t.Fatalf("image with an invalid digest: %+v", img)
		}
	})
}
