package controllers

import (
	"context"
	"errors"
	"slices"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"k8s.io/utils/lru"
	"oras.land/oras-go/v2/registry/remote"
	ctrl "sigs.k8s.io/controller-runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/globaldata"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/pullsecret"
)

// Bounds on what the operator reads of images: how many digests it
// remembers, how many root manifests resolved but not read yet, and the
// size of a layer and of its object (the agent's defaults: an object a
// node would take is read here too).
const (
	imagesCached   = 256
	rootsCached    = 64
	maxCheckLayer  = 64 << 20
	maxCheckObject = 64 << 20
)

// imageContents is what one image holds, per platform: what the
// operator checks a program against before any node sees it.
type imageContents struct {
	images []platformContents
}

// platformContents is what one platform's image holds.
type platformContents struct {
	platform string
	// programs maps name to type, maps name to map type: from the
	// labels, else (unlabeled, or no maps label) from the object.
	programs, maps map[string]string
	// variables are the object's global variables; nil until the object
	// is read.
	variables map[string]variable
	// objectRead is true once the object was read, or could not be
	// (unreadable says why: its checks are left to the nodes).
	objectRead bool
	unreadable string
	image      oci.PlatformImage
}

// variable is one global variable of an object.
type variable struct {
	size uint32
	kind globaldata.Kind
}

// imageCache remembers what images hold, by digest: a digest names the
// same bytes in every repository, and is read once however many
// programs use it.
type imageCache struct {
	mu      sync.Mutex
	entries *lru.Cache // digest → *imageEntry
	// roots holds the root manifests Resolve read, until their contents
	// are (a resolve is one GET of the manifest, which the read reuses).
	roots *lru.Cache // digest → fetchedRoot
}

// fetchedRoot is a root manifest (or index) and its content, checked
// against its digest.
type fetchedRoot struct {
	desc ocispec.Descriptor
	raw  []byte
}

// imageEntry is one digest's contents; mu is held while they are read,
// so that concurrent reconciles read an image once.
type imageEntry struct {
	mu       sync.Mutex
	contents *imageContents
}

func newImageCache() *imageCache {
	return &imageCache{entries: lru.New(imagesCached), roots: lru.New(rootsCached)}
}

// entry is digest's entry, made if absent.
func (c *imageCache) entry(digest string) *imageEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries.Get(digest); ok {
		return e.(*imageEntry)
	}
	e := &imageEntry{}
	c.entries.Add(digest, e)
	return e
}

// remember keeps a root manifest Resolve read, for the read of its
// contents that follows, unless they are known already.
func (c *imageCache) remember(root fetchedRoot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries.Get(root.desc.Digest.String()); ok && e.(*imageEntry).contents != nil {
		return
	}
	c.roots.Add(root.desc.Digest.String(), root)
}

// root takes the root manifest Resolve read for digest, if any.
func (c *imageCache) root(digest string) (fetchedRoot, bool) {
	root, ok := c.roots.Get(digest)
	if ok {
		c.roots.Remove(digest)
		return root.(fetchedRoot), true
	}
	return fetchedRoot{}, false
}

// contents returns what the image of digest holds (img names its
// repository and pull secret), reading it on first use only; with
// object, or for an image without labels, its object too.
func (r *RegistryResolver) contents(ctx context.Context, img *bpfleetv1.ImageSource, digest string, object bool) (*imageContents, error) {
	e := r.cache.entry(digest)
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.contents
	if c != nil && (!object || c.objectsRead()) {
		return c, nil
	}
	repo, err := r.repository(ctx, img, digest)
	if err != nil {
		return nil, err
	}
	if c == nil {
		if c, err = r.describe(ctx, repo, digest); err != nil {
			return nil, err
		}
	}
	if object || c.unlabeled() {
		if c, err = c.withObjects(ctx, repo); err != nil {
			return nil, err
		}
	}
	e.contents = c
	return c, nil
}

// repository is the repository of img, at digest, with img's pull
// secret's credentials.
func (r *RegistryResolver) repository(ctx context.Context, img *bpfleetv1.ImageSource, digest string) (*remote.Repository, error) {
	creds, err := pullsecret.Credentials(ctx, r.Reader, img.PullSecret, img.Ref)
	if err != nil {
		return nil, err
	}
	return oci.NewRepository(pinnedRef(img.Ref, digest), creds)
}

// describe reads the configs of the image of digest, from its root
// manifest: the one Resolve read, else fetched.
func (r *RegistryResolver) describe(ctx context.Context, repo *remote.Repository, digest string) (*imageContents, error) {
	root, ok := r.cache.root(digest)
	if !ok {
		desc, raw, err := oci.FetchManifest(ctx, repo, digest)
		if err != nil {
			return nil, err
		}
		root = fetchedRoot{desc: desc, raw: raw}
	}
	d, err := oci.DescribeFetched(ctx, repo, root.desc, root.raw)
	if err != nil {
		return nil, err
	}
	c := &imageContents{}
	for _, img := range d.Images {
		c.images = append(c.images, platformContents{platform: img.Platform, programs: img.Programs, maps: img.Maps, image: img})
	}
	return c, nil
}

// objectsRead reports whether every platform's object was read (or
// found unreadable).
func (c *imageContents) objectsRead() bool {
	for _, p := range c.images {
		if !p.objectRead {
			return false
		}
	}
	return true
}

// unlabeled reports whether an image's labels name no program: its
// object says which it has.
func (c *imageContents) unlabeled() bool {
	return slices.ContainsFunc(c.images, func(p platformContents) bool { return !p.objectRead && p.image.Unlabeled })
}

// mapsUnknown reports whether an image's labels name no map and its
// object was not read: its object says which it has.
func (c *imageContents) mapsUnknown() bool {
	return slices.ContainsFunc(c.images, func(p platformContents) bool { return !p.objectRead && len(p.maps) == 0 })
}

// withObjects is c with every platform's object read: a new value, as c
// may be in use.
func (c *imageContents) withObjects(ctx context.Context, repo *remote.Repository) (*imageContents, error) {
	out := &imageContents{images: make([]platformContents, len(c.images))}
	for i, p := range c.images {
		if !p.objectRead {
			if err := p.readObject(ctx, repo); err != nil {
				return nil, err
			}
		}
		out.images[i] = p
	}
	return out, nil
}

// readObject reads the object of p's image into p. A registry error is
// returned; an object that cannot be read (too large, not one
// cilium/ebpf reads) leaves its checks to the nodes, which say why.
func (p *platformContents) readObject(ctx context.Context, repo *remote.Repository) error {
	spec, err := oci.ReadObject(ctx, repo, p.image, maxCheckLayer, maxCheckObject)
	if err != nil && !errors.Is(err, oci.ErrTooLarge) && !errors.Is(err, oci.ErrInvalidImage) {
		return err // the registry's: read again next time
	}
	p.objectRead = true
	if err != nil {
		p.unreadable = err.Error()
		ctrl.LoggerFrom(ctx).V(1).Info("object not checked", "image", p.image.Digest, "reason", err.Error())
		return nil
	}
	programs, maps := oci.Contents(spec)
	if p.image.Unlabeled {
		p.programs = programs
	}
	if len(p.maps) == 0 {
		p.maps = maps
	}
	p.variables = map[string]variable{}
	for name, v := range spec.Variables {
		p.variables[name] = variable{size: v.Size(), kind: globaldata.KindOf(v)}
	}
	return nil
}
