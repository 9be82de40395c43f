package oci

import (
	"context"
	"encoding/json"
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
}

// Describe reads the bytecode image that root names in src (a registry
// repository or an OCI layout).
func Describe(ctx context.Context, src oras.ReadOnlyTarget, root ocispec.Descriptor) (*Description, error) {
	raw, err := fetchLimited(ctx, src, root)
	if err != nil {
		return nil, err
	}
	var m struct {
		ocispec.Manifest
		Manifests []ocispec.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", root.Digest, err)
	}
	d := &Description{Digest: root.Digest, MediaType: root.MediaType}
	if m.Config.Digest != "" {
		img, err := describeImage(ctx, src, root, m.Manifest)
		if err != nil {
			return nil, err
		}
		d.Images = []PlatformImage{img}
		return d, nil
	}
	if len(m.Manifests) == 0 || len(m.Manifests) > maxDescribeEntries {
		return nil, fmt.Errorf("%s: neither an image manifest nor an index of 1 to %d images", root.Digest, maxDescribeEntries)
	}
	for _, entry := range m.Manifests {
		img, err := describeEntry(ctx, src, entry)
		if err != nil {
			return nil, err
		}
		d.Images = append(d.Images, img)
	}
	return d, nil
}

func describeEntry(ctx context.Context, src oras.ReadOnlyTarget, desc ocispec.Descriptor) (PlatformImage, error) {
	raw, err := fetchLimited(ctx, src, desc)
	if err != nil {
		return PlatformImage{}, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return PlatformImage{}, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	return describeImage(ctx, src, desc, m)
}

// describeImage reads the config of one image manifest.
func describeImage(ctx context.Context, src oras.ReadOnlyTarget, desc ocispec.Descriptor, m ocispec.Manifest) (PlatformImage, error) {
	if len(m.Layers) != 1 {
		return PlatformImage{}, fmt.Errorf("manifest %s has %d layers; a bytecode image has one", desc.Digest, len(m.Layers))
	}
	raw, err := fetchLimited(ctx, src, m.Config)
	if err != nil {
		return PlatformImage{}, err
	}
	var config ocispec.Image
	if err := json.Unmarshal(raw, &config); err != nil {
		return PlatformImage{}, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	programs, maps, err := ParseLabels(config.Config.Labels)
	if err != nil {
		return PlatformImage{}, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	return PlatformImage{
		Platform: platformString(config.Platform), Digest: desc.Digest,
		Size:      desc.Size + m.Config.Size + m.Layers[0].Size,
		LayerSize: m.Layers[0].Size, Programs: programs, Maps: maps,
	}, nil
}

func fetchLimited(ctx context.Context, src oras.ReadOnlyTarget, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > maxDescribeManifest {
		return nil, fmt.Errorf("%s is %d bytes, more than the limit of %d", desc.Digest, desc.Size, maxDescribeManifest)
	}
	raw, err := content.FetchAll(ctx, src, desc)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", desc.Digest, RemoteError(err))
	}
	return raw, nil
}
