package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// blobs is the verified content of what an image manifest names.
type blobs struct {
	config []byte
	layer  []byte
	// layerType is the layer's media type, as the manifest says.
	layerType string
}

// load reads the config and layer of the image dgst names from the layout,
// each verified against its digest. It returns errNotCached if the layout
// lacks part of the image.
func (s *Store) load(ctx context.Context, dgst digest.Digest) (blobs, error) {
	root, err := s.cachedRoot(ctx, dgst)
	if err != nil {
		return blobs{}, err
	}
	_, img, err := walk(ctx, root, s.readLayout, s.limits)
	if err != nil {
		return blobs{}, err
	}
	config, err := s.readLayout(ctx, img.config, s.limits.manifest)
	if err != nil {
		return blobs{}, err
	}
	layer, err := s.readLayout(ctx, img.layer, s.limits.layer)
	if err != nil {
		return blobs{}, err
	}
	return blobs{config: config, layer: layer, layerType: img.layer.MediaType}, nil
}

func (s *Store) cachedRoot(ctx context.Context, dgst digest.Digest) (node, error) {
	desc, err := s.layout.Resolve(ctx, dgst.String())
	if errors.Is(err, errdef.ErrNotFound) {
		return node{}, errNotCached
	}
	if err != nil {
		return node{}, &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("read cache: %w", err)}
	}
	data, err := s.readLayout(ctx, desc, s.limits.manifest)
	return node{Descriptor: desc, data: data}, err
}

// object builds the Object that an image's blobs describe: the object
// against CheckELF, the labels (if any) against the object.
func (s *Store) object(b blobs) (*Object, error) {
	if err := checkNotEntries(b.layerType); err != nil {
		return nil, err
	}
	elf, err := extractObject(b.layer, s.limits.object)
	if err != nil {
		return nil, err
	}
	if err := CheckELF(elf); err != nil {
		return nil, err
	}
	programs, maps, err := labels(b.config)
	if err != nil {
		return nil, err
	}
	if err := checkPrograms(elf, programs); err != nil {
		return nil, err
	}
	return &Object{ELF: elf, Programs: programs, Maps: maps}, nil
}

// labels reads the programs and maps an image's config names. A config
// that names no program (an image built for an older bpfman, or by hand)
// names none: its programs are the object's, as the operator reads them
// (internal/oci DescribeFetched), and are checked when they are loaded.
func labels(config []byte) (programs, maps map[string]string, err error) {
	var img ocispec.Image
	if err := json.Unmarshal(config, &img); err != nil {
		return nil, nil, newError(ReasonInvalid, "image config: %w", err)
	}
	programs, maps, err = bpfoci.ParseLabels(img.Config.Labels)
	if errors.Is(err, bpfoci.ErrUnlabeled) {
		return map[string]string{}, map[string]string{}, nil
	}
	if err != nil {
		return nil, nil, newError(ReasonInvalid, "image config: %w", err)
	}
	return programs, maps, nil
}
