package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
)

// Bounds on what Describe reads: manifests and configs only, never layers.
const (
	maxDescribeManifest = 4 << 20
	maxDescribeEntries  = 64
)

// ErrInvalidImage is wrapped by Describe's errors that are about the
// image, not the registry: a manifest, config or labels that are not
// those of a bytecode image, or over the limits.
var ErrInvalidImage = errors.New("not a bytecode image")

// invalid is an error about the image (ErrInvalidImage), said by format.
func invalid(format string, args ...any) error {
	return invalidImage{fmt.Errorf(format, args...)}
}

// invalidImage is an error of ErrInvalidImage, with its own message.
type invalidImage struct{ err error }

func (e invalidImage) Error() string        { return e.err.Error() }
func (e invalidImage) Unwrap() error        { return e.err }
func (e invalidImage) Is(target error) bool { return target == ErrInvalidImage }

// Description is what a bytecode image holds, per platform, as its
// manifests and configs say (layers are not read).
type Description struct {
	// Digest of the root: the manifest, or the index of a multi-platform
	// image.
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	// Images has one entry per platform (one for a single-platform image).
	Images []PlatformImage `json:"images"`
}

// PlatformImage is one platform's image.
type PlatformImage struct {
	Platform string        `json:"platform"`
	Digest   digest.Digest `json:"digest"`
	// Size is the bytes of manifest, config and layer together; LayerSize
	// the layer alone, as stored (compressed).
	Size      int64 `json:"size"`
	LayerSize int64 `json:"layerSize"`
	// Programs maps program name to type, Maps map name to type, from the
	// config's labels.
	Programs map[string]string `json:"programs"`
	Maps     map[string]string `json:"maps"`
	// Unlabeled is true for an image whose config names no program (see
	// DescribeFetched); its Programs and Maps are empty.
	Unlabeled bool `json:"unlabeled,omitempty"`
	// Layer is the layer holding the object.
	Layer ocispec.Descriptor `json:"-"`
}

// Describe reads the bytecode image that root names in src (a registry
// repository or an OCI layout).
func Describe(ctx context.Context, src oras.ReadOnlyTarget, root ocispec.Descriptor) (*Description, error) {
	raw, err := fetchLimited(ctx, src, root)
	if err != nil {
		return nil, err
	}
	return describer{src: src}.describe(ctx, root, raw)
}

// DescribeFetched is Describe of a root manifest (or index) already
// fetched, raw (see ResolveManifest); unlike Describe, it takes an image
// whose config has no labels (an image built for an older bpfman, or by
// hand), and marks it Unlabeled.
func DescribeFetched(ctx context.Context, src oras.ReadOnlyTarget, root ocispec.Descriptor, raw []byte) (*Description, error) {
	return describer{src: src, unlabeled: true}.describe(ctx, root, raw)
}

// describer reads the manifests and configs of a bytecode image.
type describer struct {
	src oras.ReadOnlyTarget
	// unlabeled takes an image whose config has no labels.
	unlabeled bool
}

func (r describer) describe(ctx context.Context, root ocispec.Descriptor, raw []byte) (*Description, error) {
	var m struct {
		ocispec.Manifest
		Manifests []ocispec.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalid("manifest %s: %w", root.Digest, err)
	}
	d := &Description{Digest: root.Digest, MediaType: root.MediaType}
	if m.Config.Digest != "" {
		img, err := r.image(ctx, root, m.Manifest)
		if err != nil {
			return nil, err
		}
		d.Images = []PlatformImage{img}
		return d, nil
	}
	if len(m.Manifests) == 0 || len(m.Manifests) > maxDescribeEntries {
		return nil, invalid("%s: neither an image manifest nor an index of 1 to %d images", root.Digest, maxDescribeEntries)
	}
	for _, entry := range m.Manifests {
		img, err := r.entry(ctx, entry)
		if err != nil {
			return nil, err
		}
		d.Images = append(d.Images, img)
	}
	return d, nil
}

func (r describer) entry(ctx context.Context, desc ocispec.Descriptor) (PlatformImage, error) {
	raw, err := fetchLimited(ctx, r.src, desc)
	if err != nil {
		return PlatformImage{}, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return PlatformImage{}, invalid("manifest %s: %w", desc.Digest, err)
	}
	return r.image(ctx, desc, m)
}

// image reads the config of one image manifest.
func (r describer) image(ctx context.Context, desc ocispec.Descriptor, m ocispec.Manifest) (PlatformImage, error) {
	if len(m.Layers) != 1 {
		return PlatformImage{}, invalid("manifest %s has %d layers; a bytecode image has one", desc.Digest, len(m.Layers))
	}
	raw, err := fetchLimited(ctx, r.src, m.Config)
	if err != nil {
		return PlatformImage{}, err
	}
	var config ocispec.Image
	if err := json.Unmarshal(raw, &config); err != nil {
		return PlatformImage{}, invalid("config %s: %w", m.Config.Digest, err)
	}
	img := PlatformImage{
		Platform: platformString(config.Platform), Digest: desc.Digest,
		Size:      desc.Size + m.Config.Size + m.Layers[0].Size,
		LayerSize: m.Layers[0].Size, Layer: m.Layers[0],
	}
	img.Programs, img.Maps, err = ParseLabels(config.Config.Labels)
	if r.unlabeled && errors.Is(err, ErrUnlabeled) {
		img.Programs, img.Maps, img.Unlabeled, err = map[string]string{}, map[string]string{}, true, nil
	}
	if err != nil {
		return PlatformImage{}, invalid("config %s: %w", m.Config.Digest, err)
	}
	return img, nil
}

func fetchLimited(ctx context.Context, src oras.ReadOnlyTarget, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > maxDescribeManifest {
		return nil, invalid("%s is %d bytes, more than the limit of %d", desc.Digest, desc.Size, maxDescribeManifest)
	}
	raw, err := content.FetchAll(ctx, src, desc)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", desc.Digest, RemoteError(err))
	}
	return raw, nil
}
