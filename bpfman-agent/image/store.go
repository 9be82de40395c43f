package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// PullPolicy says when Fetch goes to the registry, as for container images.
type PullPolicy string

const (
	// PullAlways asks the registry for the manifest on every Fetch (so a
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
	// Programs maps program name to type; each is a program of ELF.
	Programs map[string]string
	// Maps maps map name to type, as the image's labels say.
	Maps map[string]string
	// FromCache is true when Fetch did not go to the registry.
	FromCache bool
}

// errNotCached is returned by load when the cache lacks part of an image.
var errNotCached = errors.New("not in the cache")

// Store is a content-addressed cache of bytecode images in an OCI image
// layout directory. It is safe for concurrent use; concurrent pulls of one
// image may both download it.
type Store struct {
	layout *oci.Store
	limits limits
}

// NewStore opens (creating it if needed) the OCI image layout in dir.
func NewStore(dir string, opts ...Option) (*Store, error) {
	l := limits{manifest: defaultMaxManifest, layer: defaultMaxLayer, object: defaultMaxObject}
	for _, opt := range opts {
		opt(&l)
	}
	layout, err := oci.New(dir)
	if err != nil {
		return nil, fmt.Errorf("open image store %s: %w", dir, err)
	}
	return &Store{layout: layout, limits: l}, nil
}

// Fetch returns the image that ref ("host/repo@sha256:...", which must be
// pinned to a digest) names, from the cache or the registry according to
// policy ("" means IfNotPresent). creds may be nil.
func (s *Store) Fetch(ctx context.Context, ref string, creds *bpfoci.Credentials, policy PullPolicy) (*Object, error) {
	dgst, err := pinnedDigest(ref)
	if err != nil {
		return nil, err
	}
	if err := checkPolicy(policy); err != nil {
		return nil, err
	}
	if policy != PullAlways {
		obj, err := s.load(ctx, dgst)
		if !errors.Is(err, errNotCached) {
			return fromCache(ref, obj, err)
		}
		if policy == PullNever {
			return nil, &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("%s: %w", ref, ErrNotCached)}
		}
	}
	if err := s.pull(ctx, ref, creds, dgst); err != nil {
		return nil, wrap(ReasonPullFailed, "pull "+ref, err)
	}
	obj, err := s.load(ctx, dgst)
	if err != nil {
		return nil, wrap(ReasonPullFailed, "image "+ref, err)
	}
	return obj, nil
}

func fromCache(ref string, obj *Object, err error) (*Object, error) {
	if err != nil {
		return nil, wrap(ReasonPullFailed, "image "+ref, err)
	}
	obj.FromCache = true
	return obj, nil
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
