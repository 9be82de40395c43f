package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// PullPolicy says when Fetch and FetchEntries go to the registry, as for
// container images.
type PullPolicy string

const (
	// PullAlways asks the registry for the manifest on every fetch (so a
	// revoked credential or deleted image is noticed); blobs already in the
	// cache are not downloaded again.
	PullAlways PullPolicy = "Always"
	// PullIfNotPresent uses the cache without touching the network when it
	// holds the image. The default.
	PullIfNotPresent PullPolicy = "IfNotPresent"
	// PullNever uses the cache only, and fails if the image is absent.
	PullNever PullPolicy = "Never"
)

// Object is a verified bytecode image.
type Object struct {
	// Digest is the manifest (or index) digest the image was fetched by.
	Digest string
	// ELF is the object file: EM_BPF, host byte order.
	ELF []byte
	// Programs maps program name to type, as the image's labels say;
	// each is a program of ELF. Empty for an image without labels.
	Programs map[string]string
	// Maps maps map name to type, as the image's labels say (empty
	// without labels).
	Maps map[string]string
	// FromCache is true when Fetch did not go to the registry.
	FromCache bool
}

// errNotCached is returned by load when the cache lacks part of an image.
var errNotCached = errors.New("not in the cache")

// Store is a content-addressed cache of bytecode images and map entries
// artifacts in an OCI image layout directory. It is safe for concurrent use;
// concurrent pulls of one artifact may both download it. Collect waits for
// the fetches under way, and they for it. A directory belongs to one Store
// (one agent): another's Collect would remove what this one uses.
type Store struct {
	dir    string
	limits limits
	// client makes every registry request, bounded by limits.timeouts.
	client *http.Client
	// silent holds the registries that timed out lately: not asked again
	// for a while.
	silent silence

	// mu is held for reading by each fetch, for writing by Collect, which
	// replaces layout.
	mu     sync.RWMutex
	layout *oci.Store
	// recent holds the objects fetched last, decoded.
	recent recentObjects
}

// NewStore opens (creating it if needed) the OCI image layout in dir. It
// removes what a crash left in ingest/ (partial downloads), and takes
// every access to the cache from group and others (directories 0700,
// files 0600, blobs 0400): blobs may hold private images and MapPolicy
// entries.
func NewStore(dir string, opts ...Option) (*Store, error) {
	l := defaultLimits()
	for _, opt := range opts {
		opt(&l)
	}
	layout, err := openLayout(dir)
	if err != nil {
		return nil, fmt.Errorf("open image store %s: %w", dir, err)
	}
	return &Store{dir: dir, layout: layout, limits: l, client: bpfoci.NewHTTPClient(l.timeouts)}, nil
}

// openLayout makes dir private, empties its ingest/ and opens its layout.
func openLayout(dir string) (*oci.Store, error) {
	for _, sub := range []string{ingestDir, filepath.Join("blobs", "sha256")} {
		if err := os.MkdirAll(filepath.Join(dir, sub), dirMode); err != nil {
			return nil, err
		}
	}
	if err := removeIngest(dir, 0); err != nil {
		return nil, err
	}
	layout, err := oci.New(dir)
	if err != nil {
		// Torn by a crash or a full disk mid-write: set the index aside,
		// drop the blobs that are not what their name says, and start
		// again; what is lost is pulled again.
		layout, err = reopenTorn(dir, err)
	}
	if err != nil {
		return nil, err
	}
	return layout, restrictPermissions(dir)
}

// reopenTorn opens the layout in dir, which failed to open with cause, anew:
// its index.json renamed index.json.torn, its damaged blobs removed, and
// the manifests and indexes left listed in a new index.json, so that
// Collect keeps those in use (a manifest the index does not list is read
// all the same, but collected with its blobs).
func reopenTorn(dir string, cause error) (*oci.Store, error) {
	index := filepath.Join(dir, "index.json")
	if err := os.Rename(index, index+".torn"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, errors.Join(cause, err)
	}
	blobDir := filepath.Join(dir, "blobs", "sha256")
	if err := removeDamagedBlobs(blobDir); err != nil {
		return nil, errors.Join(cause, err)
	}
	layout, err := oci.New(dir)
	if err == nil {
		err = reindex(layout, blobDir)
	}
	if err != nil {
		return nil, errors.Join(cause, err)
	}
	return layout, nil
}

// reindex lists in layout's index every blob of dir that is an image
// manifest or index; those no artifact in use names go at the next
// Collect.
func reindex(layout *oci.Store, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		desc, ok := manifestBlob(filepath.Join(dir, e.Name()))
		if !ok {
			continue
		}
		if err := layout.Tag(context.Background(), desc, desc.Digest.String()); err != nil {
			return fmt.Errorf("list %s in the new index: %w", desc.Digest, err)
		}
	}
	return nil
}

// manifestBlob describes the blob at path if it is an image manifest or
// index (by its mediaType) no larger than the default manifest limit.
func manifestBlob(path string) (ocispec.Descriptor, bool) {
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() || info.Size() > defaultMaxManifest {
		return ocispec.Descriptor{}, false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ocispec.Descriptor{}, false
	}
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(data, &m) != nil {
		return ocispec.Descriptor{}, false
	}
	switch kind(m.MediaType) {
	case "manifest", "image index":
		return content.NewDescriptorFromBytes(m.MediaType, data), true
	}
	return ocispec.Descriptor{}, false
}

// removeDamagedBlobs removes the files of dir whose SHA-256 is not their
// name.
func removeDamagedBlobs(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if sha256Of(path) == e.Name() {
			continue
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	return nil
}

// sha256Of is the hex SHA-256 of the file at path, or "" if it cannot be
// read.
func sha256Of(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	d, err := digest.SHA256.FromReader(f)
	if err != nil {
		return ""
	}
	return d.Encoded()
}

// Fetch returns the image that ref ("host/repo@sha256:...", which must be
// pinned to a digest) names, from the cache or the registry according to
// policy ("" means IfNotPresent). creds may be nil.
//
// An object fetched lately comes from memory (recentObjects), unless
// policy is Always; its ELF and maps are shared, and callers only read
// them.
func (s *Store) Fetch(ctx context.Context, ref string, creds *bpfoci.Credentials, policy PullPolicy) (*Object, error) {
	dgst, err := pinnedDigest(ref)
	if err == nil && policy != PullAlways && checkPolicy(policy) == nil {
		if obj, ok := s.recentObject(dgst); ok {
			return obj, nil
		}
	}
	return fetch(ctx, s, ref, creds, policy, func(b blobs) (*Object, error) {
		obj, err := s.object(b)
		if err == nil { // under fetch's read lock: no Collect in between
			s.recent.put(dgst, obj)
		}
		return obj, err
	})
}

// recentObject is the object of dgst from memory, its use recorded for
// Collect as a fetch from the layout records it.
func (s *Store) recentObject(dgst digest.Digest) (*Object, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	obj, ok := s.recent.get(dgst)
	if ok {
		s.touch(dgst)
	}
	return obj, ok
}

// artifact is what the store hands out: *Object or *Entries.
type artifact interface {
	// setSource records the manifest digest it was fetched by and whether
	// it came from the cache.
	setSource(dgst string, fromCache bool)
	// source is what setSource recorded.
	source() (dgst string, fromCache bool)
}

func (o *Object) setSource(dgst string, fromCache bool) { o.Digest, o.FromCache = dgst, fromCache }
func (o *Object) source() (string, bool)                { return o.Digest, o.FromCache }

// fetch is Fetch and FetchEntries: it gets the blobs of the artifact ref
// names as policy says and makes a T of them with decode.
func fetch[T artifact](ctx context.Context, s *Store, ref string, creds *bpfoci.Credentials, policy PullPolicy, decode func(blobs) (T, error)) (T, error) {
	var none T
	dgst, err := pinnedDigest(ref)
	if err != nil {
		return none, err
	}
	if err := checkPolicy(policy); err != nil {
		return none, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, fromCache, err := s.get(ctx, ref, creds, dgst, policy)
	if err != nil {
		return none, err
	}
	s.touch(dgst)
	v, err := decode(b)
	if err != nil {
		return none, wrap(ReasonPullFailed, "image "+ref, err)
	}
	v.setSource(dgst.String(), fromCache)
	return v, nil
}

// get returns the verified blobs of the image dgst names, from the cache or
// the registry as policy says, and whether they came from the cache.
func (s *Store) get(ctx context.Context, ref string, creds *bpfoci.Credentials, dgst digest.Digest, policy PullPolicy) (blobs, bool, error) {
	if policy == PullAlways {
		b, err := s.pullAndLoad(ctx, ref, creds, dgst)
		return b, false, err
	}
	b, err := s.load(ctx, dgst)
	switch {
	case err == nil:
		return b, true, nil
	case !errors.Is(err, errNotCached):
		return blobs{}, false, wrap(ReasonPullFailed, "image "+ref, err)
	case policy == PullNever:
		return blobs{}, false, &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("%s: %w", ref, ErrNotCached)}
	}
	b, err = s.pullAndLoad(ctx, ref, creds, dgst)
	return b, false, err
}

// pullAndLoad pulls the image dgst names into the layout and reads it back.
func (s *Store) pullAndLoad(ctx context.Context, ref string, creds *bpfoci.Credentials, dgst digest.Digest) (blobs, error) {
	if err := s.pull(ctx, ref, creds, dgst); err != nil {
		return blobs{}, wrap(ReasonPullFailed, "pull "+ref, err)
	}
	b, err := s.load(ctx, dgst)
	if err != nil {
		return blobs{}, wrap(ReasonPullFailed, "image "+ref, err)
	}
	return b, nil
}

func checkPolicy(p PullPolicy) error {
	switch p {
	case "", PullAlways, PullIfNotPresent, PullNever:
		return nil
	}
	return newError(ReasonInvalid, "unknown pull policy %q: want Always, IfNotPresent or Never", p)
}

func pinnedDigest(ref string) (digest.Digest, error) {
	r, err := bpfoci.ParseReference(ref)
	if err != nil {
		return "", &Error{Reason: ReasonInvalid, Err: err}
	}
	d, err := r.Digest()
	if err != nil {
		return "", newError(ReasonInvalid, "image %s is not pinned to a digest (want repo@sha256:...)", ref)
	}
	return d, nil
}

// readLayout is a fetchFunc reading from the layout. Missing content is
// errNotCached; so is corrupt content, which it deletes so that Fetch pulls
// it again.
func (s *Store) readLayout(ctx context.Context, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	rc, err := s.layout.Fetch(ctx, desc)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, errNotCached
	}
	if err != nil {
		return nil, &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("read cache: %w", err)}
	}
	b, err := readVerified(rc, desc, limit)
	rc.Close()
	if errors.Is(err, errDigestMismatch) {
		_ = s.layout.Delete(ctx, desc)
		return nil, errNotCached
	}
	return b, err
}

// readVerified reads at most limit bytes and checks they are those desc
// names.
func readVerified(r io.Reader, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("read %s: %w", desc.Digest, err)}
	}
	if int64(len(b)) > limit {
		return nil, newError(ReasonTooLarge, "%s %s is more than the limit of %d bytes", kind(desc.MediaType), desc.Digest, limit)
	}
	return b, verify(desc.Digest, b)
}

// kind names what a media type describes, for messages.
func kind(mediaType string) string {
	switch {
	case strings.Contains(mediaType, "index"), strings.Contains(mediaType, "list"):
		return "image index"
	case strings.Contains(mediaType, "manifest"):
		return "manifest"
	case strings.Contains(mediaType, "config"):
		return "config"
	}
	return "blob"
}
