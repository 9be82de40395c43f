package faults

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Sizes of the cache GC case: 50 versions of an image of about 32 KiB
// each, under a cap of about three of them.
const (
	versions       = 50
	versionPadding = 32 << 10
	cacheCap       = 100 << 10
)

// One program is updated to 50 versions of its image in turn, with the
// image cache capped at about three versions' worth: the agent pulls
// each, and at the end the cache holds the image in use alone (its
// manifest, config and layer, nothing else, nothing in ingest/), under
// the cap.
func TestImageCacheGC50Versions(t *testing.T) {
	s := start(t)
	h := newHost(t, s)
	dir := h.ownImages("")
	h.args = append(h.args, "--image-cache-max-bytes="+strconv.Itoa(cacheCap))
	c := s.stack.Client
	refs, digests := make([]string, versions), make([]string, versions)
	for i := range versions {
		refs[i], digests[i] = pushCounter(t, s, "versioned-counter", fmt.Sprintf("v%d", i+1), versionPadding)
	}
	tp := counterFrom(s, "faults-versioned-counter", refs[0])
	t.Cleanup(func() { h.deleteAll(tp) })
	h.start("")
	if err := c.Create(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	var pulled, most int64
	for i := range versions {
		if i > 0 {
			base := tp.DeepCopy()
			tp.Spec.ByteCode.Image.Ref = refs[i]
			if err := c.Patch(context.Background(), tp, client.MergeFrom(base)); err != nil {
				t.Fatal(err)
			}
		}
		h.settle("version "+strconv.Itoa(i+1)+" Ready", func(ctx context.Context) bool {
			st, ok := reported(ctx, c, tp.UID)
			return ok && st.Generation == tp.Generation && specDigest(ctx, c, tp.UID) == digests[i] && programReady(ctx, c, tp)
		})
		held := readCache(t, dir)
		if !held.holds(t, dir, digests[i]) {
			t.Fatalf("version %d runs, but the cache does not hold its image", i+1)
		}
		for _, d := range imageBlobs(t, dir, digests[i]) {
			pulled += held.blobs[d]
		}
		most = max(most, held.bytes())
	}
	h.settleCache("the cache holding the image in use only", dir, digests[versions-1:], func(context.Context) bool { return true })
	end := readCache(t, dir)
	t.Logf("%d versions pulled (%d bytes in all), cap %d: the cache ends with %d bytes in %d blobs (the version in use); at most %d bytes seen after a version was Ready",
		versions, pulled, cacheCap, end.bytes(), len(end.blobs), most)
	if end.bytes() > cacheCap {
		t.Errorf("the cache holds %d bytes, more than its cap of %d", end.bytes(), cacheCap)
	}
	st := nodeEntry(t, c, tp.UID)
	checkPins(t, st, "main")
	checkRoot(t, h.pinRoot, st)
}
