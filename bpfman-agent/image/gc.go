package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"

	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
)

// ingestStale is how long a file in ingest/ may go unwritten before
// Collect takes it for a leftover: a pull in flight writes, or fails on
// its request timeout, well within it.
const ingestStale = 5 * time.Minute

// Keep says what Collect keeps.
type Keep struct {
	// InUse are the digest-pinned references (repo@sha256:…) of what the
	// node's spec uses: bytecode images and entries artifacts. Collect
	// never removes them, nor what they are made of.
	InUse []string
	// Unknown says the node's spec does not say what is in use (a set the
	// agent made anew): then nothing is removed while the cache is under
	// its cap, and above it the artifacts used longest ago go first.
	Unknown bool
}

// CacheUsage is what the cache holds after Collect.
type CacheUsage struct {
	// Bytes and Blobs count the blobs the layout holds.
	Bytes, Blobs int64
	// Limit is the cap (WithMaxCacheSize).
	Limit int64
	// Removed counts the artifacts (manifests or indexes) removed.
	Removed int
}

// OverLimit reports whether what is in use alone exceeds the cap.
func (u CacheUsage) OverLimit() bool { return u.Bytes > u.Limit }

// Collect removes from the cache every artifact keep does not keep, used
// longest ago first, and the blobs no remaining artifact names; and what
// ingest/ has held unwritten for a while (a crashed pull's leftovers). It
// publishes the cache's size as metrics. Artifacts in use are kept even
// when they alone exceed the cap: CacheUsage.OverLimit says so.
//
// Collect waits for the fetches under way, and they wait for it, so no
// pull's blobs are removed before its manifest names them; the agent
// calls it between passes, which run one at a time.
func (s *Store) Collect(ctx context.Context, keep Keep) (CacheUsage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	usage, err := s.collect(ctx, keep)
	metrics.SetImageCache(usage.Bytes, usage.Blobs, usage.Limit)
	if err != nil {
		return usage, fmt.Errorf("collect image cache %s: %w", s.dir, err)
	}
	return usage, nil
}

func (s *Store) collect(ctx context.Context, keep Keep) (CacheUsage, error) {
	usage := CacheUsage{Limit: s.limits.cache}
	entries, err := s.indexEntries()
	if err != nil {
		return usage, err
	}
	arts := s.artifacts(entries)
	inUse := inUseDigests(keep.InUse)
	kept, removed := s.choose(arts, inUse, keep.Unknown)
	usage.Removed = removed
	if removed > 0 {
		if err := s.rewrite(ctx, kept); err != nil {
			return usage, err
		}
	}
	live := map[digest.Digest]bool{}
	for _, a := range kept {
		maps.Copy(live, a.reach)
	}
	s.recent.keep(live)
	errs := []error{s.sweep(live), removeIngest(s.dir, ingestStale)}
	usage.Bytes, usage.Blobs = s.measure()
	return usage, errors.Join(errs...)
}

// cached is an entry of index.json, with what it reaches.
type cached struct {
	desc ocispec.Descriptor
	// reach holds its digest and those of every blob it names, through
	// child manifests; blobs absent from the layout are left out.
	reach map[digest.Digest]bool
	// sizes of the blobs of reach.
	sizes map[digest.Digest]int64
	// used is its root blob's modification time: when it was last fetched.
	used time.Time
}

// artifacts reads what each index entry reaches.
func (s *Store) artifacts(entries []ocispec.Descriptor) []*cached {
	out := make([]*cached, 0, len(entries))
	for _, e := range entries {
		a := &cached{desc: e, reach: map[digest.Digest]bool{}, sizes: map[digest.Digest]int64{}}
		s.reachFrom(e, a, 0)
		if info, err := os.Stat(s.blobPath(e.Digest)); err == nil {
			a.used = info.ModTime()
		}
		out = append(out, a)
	}
	return out
}

// maxDepth bounds how deep reachFrom follows indexes of indexes.
const maxDepth = 4

// reachFrom adds desc's blob, and those it names, to a.
func (s *Store) reachFrom(desc ocispec.Descriptor, a *cached, depth int) {
	if a.reach[desc.Digest] || desc.Digest.Validate() != nil {
		return
	}
	info, err := os.Stat(s.blobPath(desc.Digest))
	if err != nil {
		return
	}
	a.reach[desc.Digest], a.sizes[desc.Digest] = true, info.Size()
	if kind(desc.MediaType) != "manifest" && kind(desc.MediaType) != "image index" || depth >= maxDepth {
		return
	}
	for _, child := range s.children(desc) {
		s.reachFrom(child, a, depth+1)
	}
}

// children are the descriptors the manifest or index desc names; none if
// it cannot be read.
func (s *Store) children(desc ocispec.Descriptor) []ocispec.Descriptor {
	f, err := os.Open(s.blobPath(desc.Digest))
	if err != nil {
		return nil
	}
	defer f.Close()
	var m manifestJSON
	if err := json.NewDecoder(io.LimitReader(f, s.limits.manifest)).Decode(&m); err != nil {
		return nil
	}
	out := slices.Clone(m.Manifests)
	if m.Config != nil {
		out = append(out, *m.Config)
	}
	return append(out, m.Layers...)
}

// choose returns the artifacts to keep and how many go: those in use,
// and what they reach, stay; of the others, removed whole (an index with
// its manifests), those used longest ago go first: all of them, or with
// unknown only as many as the cap requires.
func (s *Store) choose(arts []*cached, inUse map[digest.Digest]bool, unknown bool) ([]*cached, int) {
	live := map[digest.Digest]bool{}
	for _, a := range arts {
		if inUse[a.desc.Digest] {
			maps.Copy(live, a.reach)
		}
	}
	sizes := map[digest.Digest]int64{}
	for _, a := range arts {
		maps.Copy(sizes, a.sizes)
	}
	unused := unusedRoots(arts, live)
	slices.SortStableFunc(unused, func(a, b *cached) int { return a.used.Compare(b.used) })
	for len(unused) > 0 && (!unknown || bytesOf(sizes, live, unused) > s.limits.cache) {
		unused = unused[1:]
	}
	for _, a := range unused {
		maps.Copy(live, a.reach)
	}
	var kept []*cached
	for _, a := range arts {
		if live[a.desc.Digest] {
			kept = append(kept, a)
		}
	}
	return kept, len(arts) - len(kept)
}

// unusedRoots are the artifacts not live that no other artifact reaches.
func unusedRoots(arts []*cached, live map[digest.Digest]bool) []*cached {
	var out []*cached
	for _, a := range arts {
		if !live[a.desc.Digest] && !reachedByOther(arts, a) {
			out = append(out, a)
		}
	}
	return out
}

func reachedByOther(arts []*cached, a *cached) bool {
	for _, b := range arts {
		if b != a && b.reach[a.desc.Digest] {
			return true
		}
	}
	return false
}

// bytesOf is the size of the blobs in live or reached from arts, each
// counted once.
func bytesOf(sizes map[digest.Digest]int64, live map[digest.Digest]bool, arts []*cached) int64 {
	held := maps.Clone(live)
	for _, a := range arts {
		maps.Copy(held, a.reach)
	}
	var n int64
	for d := range held {
		n += sizes[d]
	}
	return n
}

// rewrite makes index.json list kept only, and reopens the layout on it.
func (s *Store) rewrite(ctx context.Context, kept []*cached) error {
	index := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: make([]ocispec.Descriptor, 0, len(kept))}
	index.SchemaVersion = 2
	for _, a := range kept {
		index.Manifests = append(index.Manifests, a.desc)
	}
	data, err := json.Marshal(index)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(s.dir, ocispec.ImageIndexFile), data); err != nil {
		return err
	}
	layout, err := oci.NewWithContext(ctx, s.dir)
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	s.layout = layout
	return nil
}

// writeAtomic replaces the file at path with data, mode 0600: a crash
// leaves the old file or the new one.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, fileMode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, fileMode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// sweep removes the blobs not in live: those of removed artifacts, and
// those a failed pull left without a manifest.
func (s *Store) sweep(live map[digest.Digest]bool) error {
	dir := filepath.Join(s.dir, "blobs", string(digest.SHA256))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if e.IsDir() || d.Validate() != nil || live[d] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// measure counts the blobs the layout holds and their bytes.
func (s *Store) measure() (bytes, blobs int64) {
	root := filepath.Join(s.dir, "blobs")
	_ = filepath.WalkDir(root, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			bytes, blobs = bytes+info.Size(), blobs+1
		}
		return nil
	})
	return bytes, blobs
}

// indexEntries reads the manifests index.json lists.
func (s *Store) indexEntries() ([]ocispec.Descriptor, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, ocispec.ImageIndexFile))
	if err != nil {
		return nil, err
	}
	var index ocispec.Index
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	return index.Manifests, nil
}

// inUseDigests are the digests refs are pinned to; a reference that is
// not pinned names nothing in the cache.
func inUseDigests(refs []string) map[digest.Digest]bool {
	out := make(map[digest.Digest]bool, len(refs))
	for _, ref := range refs {
		if d, err := pinnedDigest(ref); err == nil {
			out[d] = true
		}
	}
	return out
}
