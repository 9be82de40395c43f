package image_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// pushVersions pushes n different versions of the counter image to repo
// and returns their pinned references, oldest first.
func pushVersions(t *testing.T, repo string, n int) []string {
	t.Helper()
	refs := make([]string, n)
	for i := range refs {
		b := counterBytecode(t)
		b.FileName = fmt.Sprintf("counter-v%d.o", i)
		refs[i] = push(t, fmt.Sprintf("%s:v%d", repo, i), b, nil)
	}
	return refs
}

// fetchAll fetches each of refs into store, and makes each used a second
// after the one before (Collect removes the artifacts used longest ago
// first).
func fetchAll(t *testing.T, store *image.Store, dir string, refs []string) {
	t.Helper()
	base := time.Now().Add(-time.Hour)
	for i, ref := range refs {
		obj, err := store.Fetch(context.Background(), ref, nil, image.PullIfNotPresent)
		if err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(filepath.Join(dir, "blobs", "sha256", dgstHex(obj.Digest)), at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// cacheFiles counts the blobs under dir and their bytes, and the entries
// of its index.json.
func cacheFiles(t *testing.T, dir string) (bytes, blobs int64, indexed int) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(dir, "blobs"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		bytes, blobs = bytes+info.Size(), blobs+1
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	return bytes, blobs, len(index.Manifests)
}

// cachedNever reports whether ref is held: a fetch under Never succeeds.
func cachedNever(store *image.Store, ref string) bool {
	_, err := store.Fetch(context.Background(), ref, nil, image.PullNever)
	return err == nil
}

// 50 versions of an image pulled, only the last in use: after a
// collection only it remains (its manifest, config and layer), under the
// cap, and it still loads without the registry (issue 14).
func TestCollectKeepsOnlyWhatIsInUse(t *testing.T) {
	host, stop := startRegistry(t, nil)
	refs := pushVersions(t, host+"/bpf/counter", 50)
	const limit = 64 << 10
	store, dir := newStore(t, image.WithMaxCacheSize(limit))
	fetchAll(t, store, dir, refs)
	before, blobsBefore, _ := cacheFiles(t, dir)
	// A crashed pull's blob, which no manifest names.
	stray := filepath.Join(dir, "blobs", "sha256", "ab"+fmt.Sprintf("%062d", 0))
	if err := os.WriteFile(stray, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	usage, err := store.Collect(context.Background(), image.Keep{InUse: refs[49:]})
	if err != nil {
		t.Fatal(err)
	}
	after, blobs, indexed := cacheFiles(t, dir)
	t.Logf("50 versions: %d bytes in %d blobs before, %d bytes in %d blobs after (cap %d)", before, blobsBefore, after, blobs, limit)
	if blobs != 3 || indexed != 1 || usage.Removed != 49 {
		t.Errorf("after collection: %d blobs, %d index entries, %d removed; want 3 blobs (manifest, config, layer), 1 entry, 49 removed",
			blobs, indexed, usage.Removed)
	}
	if after > limit || usage.Bytes != after || usage.OverLimit() {
		t.Errorf("cache holds %d bytes (Collect says %d); cap %d", after, usage.Bytes, limit)
	}
	stop()
	if !cachedNever(store, refs[49]) {
		t.Error("the image in use is gone from the cache")
	}
	if cachedNever(store, refs[0]) || cachedNever(store, refs[48]) {
		t.Error("an image no longer in use is still served from the cache")
	}
	reopened, err := image.NewStore(dir)
	if err != nil || !cachedNever(reopened, refs[49]) {
		t.Errorf("reopened store: %v; want the image in use served", err)
	}
}

// What is in use is kept even when it alone exceeds the cap, and the
// collection says so.
func TestCollectKeepsWhatIsInUseOverTheCap(t *testing.T) {
	host, _ := startRegistry(t, nil)
	refs := pushVersions(t, host+"/bpf/counter", 2)
	store, dir := newStore(t, image.WithMaxCacheSize(100))
	fetchAll(t, store, dir, refs)
	usage, err := store.Collect(context.Background(), image.Keep{InUse: refs})
	if err != nil {
		t.Fatal(err)
	}
	if !usage.OverLimit() || usage.Removed != 0 || !cachedNever(store, refs[0]) || !cachedNever(store, refs[1]) {
		t.Errorf("usage %+v: want both images kept, over the limit", usage)
	}
}

// When the node's spec does not say what is in use, nothing is removed
// under the cap, and above it the images used longest ago go first.
func TestCollectUnknownUseTrimsOldestFirst(t *testing.T) {
	host, _ := startRegistry(t, nil)
	refs := pushVersions(t, host+"/bpf/counter", 4)
	store, dir := newStore(t)
	fetchAll(t, store, dir, refs)
	if usage, err := store.Collect(context.Background(), image.Keep{Unknown: true}); err != nil || usage.Removed != 0 {
		t.Fatalf("under the cap: %+v, %v; want nothing removed", usage, err)
	}
	total, _, _ := cacheFiles(t, dir)
	// Used in the order 1, 0, 3, 2: room for a bit more than two.
	fetchAll(t, store, dir, []string{refs[1], refs[0], refs[3], refs[2]})
	small, _ := image.NewStore(dir, image.WithMaxCacheSize(total/2+total/8))
	if _, err := small.Collect(context.Background(), image.Keep{Unknown: true}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, false, true, true} {
		if got := cachedNever(small, refs[i]); got != want {
			t.Errorf("version %d held: %v, want %v", i, got, want)
		}
	}
}

// A crash mid-pull leaves partial downloads in ingest/: the store removes
// them when it opens, and a collection those that have sat for minutes.
func TestIngestLeftoversAreRemoved(t *testing.T) {
	dir := t.TempDir()
	ingest := filepath.Join(dir, "ingest")
	leftover := filepath.Join(ingest, "sha256abc_123")
	if err := os.MkdirAll(ingest, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := image.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("ingest leftover after opening: %v; want it removed", err)
	}
	old, fresh := filepath.Join(ingest, "old_1"), filepath.Join(ingest, "fresh_1")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Collect(context.Background(), image.Keep{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("an hour-old ingest file after a collection: %v; want it removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh ingest file (a pull in flight, maybe): %v; want it kept", err)
	}
}

// Blobs may hold private images and MapPolicy entries: no file or
// directory of the cache is open to group or others, in a new cache or in
// one an earlier agent left readable by all (issue 14).
func TestCacheIsPrivate(t *testing.T) {
	host, _ := startRegistry(t, nil)
	ref := push(t, host+"/bpf/counter:v1", counterBytecode(t), nil)
	store, dir := newStore(t)
	if _, err := store.Fetch(context.Background(), ref, nil, image.PullIfNotPresent); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir)

	// An earlier agent's cache, open to all.
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(path, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.NewStore(dir); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir)
}

func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch perm := info.Mode().Perm(); {
		case d.IsDir() && perm != 0o700:
			t.Errorf("directory %s has mode %v, want 0700", path, perm)
		case !d.IsDir() && perm&0o077 != 0:
			t.Errorf("file %s has mode %v, want no access for group or others (0600 or 0400)", path, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
