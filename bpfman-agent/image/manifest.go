package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's media types for what OCI calls a manifest and an index.
const (
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// node is a manifest or index and its verified content.
type node struct {
	ocispec.Descriptor
	data []byte
}

// fetchFunc returns the verified content of desc, at most limit bytes.
type fetchFunc func(ctx context.Context, desc ocispec.Descriptor, limit int64) ([]byte, error)

// imageRef is what a bytecode image's manifest points to.
type imageRef struct {
	config ocispec.Descriptor
	layer  ocispec.Descriptor
}

// manifestJSON holds the fields of both an image manifest and an index.
type manifestJSON struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
}

// walk returns the image that root names — root itself, or the entry of an
// index for this node's platform — and the manifests on the way, root last.
func walk(ctx context.Context, root node, fetch fetchFunc, l limits) ([]node, imageRef, error) {
	m, err := decodeManifest(root)
	if err != nil {
		return nil, imageRef{}, err
	}
	if !isIndex(root.MediaType, m) {
		img, err := imageOf(m, l)
		return []node{root}, img, err
	}
	child, m, err := platformManifest(ctx, root, m, fetch, l)
	if err != nil {
		return nil, imageRef{}, err
	}
	img, err := imageOf(m, l)
	return []node{child, root}, img, err
}

// platformManifest fetches the image manifest an index holds for this node.
func platformManifest(ctx context.Context, index node, m manifestJSON, fetch fetchFunc, l limits) (node, manifestJSON, error) {
	desc, err := platformEntry(m.Manifests, l)
	if err != nil {
		return node{}, m, err
	}
	data, err := fetch(ctx, desc, l.manifest)
	if err != nil {
		return node{}, m, err
	}
	child := node{Descriptor: desc, data: data}
	if m, err = decodeManifest(child); err != nil {
		return node{}, m, err
	}
	if isIndex(desc.MediaType, m) {
		return node{}, m, newError(ReasonInvalid, "image index %s: entry %s is itself an index", index.Digest, desc.Digest)
	}
	return child, m, nil
}

func decodeManifest(n node) (manifestJSON, error) {
	var m manifestJSON
	if err := json.Unmarshal(n.data, &m); err != nil {
		return m, newError(ReasonInvalid, "manifest %s: %w", n.Digest, err)
	}
	if m.SchemaVersion != 2 {
		return m, newError(ReasonInvalid, "manifest %s: schema version %d, want 2", n.Digest, m.SchemaVersion)
	}
	return m, nil
}

func isIndex(mediaType string, m manifestJSON) bool {
	if m.MediaType != "" {
		mediaType = m.MediaType
	}
	switch mediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerList:
		return true
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		return false
	}
	return m.Manifests != nil && m.Config == nil
}

// imageOf checks that m is a bytecode image's manifest: a config and exactly
// one layer, within the limits.
func imageOf(m manifestJSON, l limits) (imageRef, error) {
	if m.Config == nil {
		return imageRef{}, newError(ReasonInvalid, "manifest has no config")
	}
	if len(m.Layers) != 1 {
		return imageRef{}, newError(ReasonInvalid, "manifest has %d layers; bytecode images and map entries lists have exactly one", len(m.Layers))
	}
	img := imageRef{config: *m.Config, layer: m.Layers[0]}
	if err := checkDescriptor("config", img.config, l.manifest); err != nil {
		return imageRef{}, err
	}
	return img, checkDescriptor("layer", img.layer, l.layer)
}

func checkDescriptor(what string, d ocispec.Descriptor, limit int64) error {
	if err := d.Digest.Validate(); err != nil {
		return newError(ReasonInvalid, "%s digest %.80q: %w", what, d.Digest, err)
	}
	if d.Size < 0 {
		return newError(ReasonInvalid, "%s %s: negative size %d", what, d.Digest, d.Size)
	}
	if d.Size > limit {
		return newError(ReasonTooLarge, "%s %s is %d bytes, more than the limit of %d", what, d.Digest, d.Size, limit)
	}
	return nil
}

// platformEntry returns the entry of an index for linux on this node's
// architecture.
func platformEntry(entries []ocispec.Descriptor, l limits) (ocispec.Descriptor, error) {
	i := slices.IndexFunc(entries, func(d ocispec.Descriptor) bool {
		return d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH
	})
	if i < 0 {
		return ocispec.Descriptor{}, newError(ReasonInvalid, "image index has no entry for linux/%s (it has %s)",
			runtime.GOARCH, platforms(entries))
	}
	return entries[i], checkDescriptor("manifest", entries[i], l.manifest)
}

func platforms(entries []ocispec.Descriptor) string {
	var list []string
	for _, d := range entries {
		if d.Platform != nil && len(list) < 8 {
			list = append(list, d.Platform.OS+"/"+d.Platform.Architecture)
		}
	}
	return fmt.Sprintf("%d entries: %v", len(entries), list)
}

// errDigestMismatch is wrapped by the errors of content that is not what
// its digest names.
var errDigestMismatch = errors.New("digest mismatch")

// verify returns an error unless data is the content that d names.
func verify(d digest.Digest, data []byte) error {
	if err := d.Validate(); err != nil {
		return newError(ReasonInvalid, "digest %.80q: %w", d, err)
	}
	if got := d.Algorithm().FromBytes(data); got != d {
		return newError(ReasonInvalid, "%w: content served as %s has digest %s", errDigestMismatch, d, got)
	}
	return nil
}
