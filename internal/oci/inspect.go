package oci

import (
	"context"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/bpfleet/bpfleet/internal/kconfig"
)

// ResolveManifest is Resolve in one GET of the manifest rather than a
// HEAD: it returns the descriptor of the manifest (or index) ref names,
// the repository, and the manifest's content, checked against its digest
// and size-limited, for DescribeFetched.
func ResolveManifest(ctx context.Context, ref string, creds *Credentials) (*remote.Repository, ocispec.Descriptor, []byte, error) {
	repo, err := NewRepository(ref, creds)
	if err != nil {
		return nil, ocispec.Descriptor{}, nil, err
	}
	reference := repo.Reference.Reference
	if reference == "" {
		reference = "latest"
	}
	desc, raw, err := FetchManifest(ctx, repo, reference)
	if err != nil {
		return nil, ocispec.Descriptor{}, nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	return repo, desc, raw, nil
}

// FetchManifest fetches the manifest (or index) that reference (a tag or
// a digest) names in repo: its descriptor and its content, checked
// against its digest and size-limited. A registry's error is classified
// (RemoteError).
func FetchManifest(ctx context.Context, repo *remote.Repository, reference string) (ocispec.Descriptor, []byte, error) {
	desc, rc, err := repo.FetchReference(ctx, reference)
	if err != nil {
		return ocispec.Descriptor{}, nil, RemoteError(err)
	}
	defer rc.Close()
	if desc.Size > maxDescribeManifest {
		return ocispec.Descriptor{}, nil, invalid("manifest %s is %d bytes, more than the limit of %d", desc.Digest, desc.Size, maxDescribeManifest)
	}
	raw, err := content.ReadAll(rc, desc)
	if err != nil {
		return ocispec.Descriptor{}, nil, RemoteError(err)
	}
	return desc, raw, nil
}

// ReadObject fetches the layer of img from src (at most maxLayer bytes,
// checked against its digest), extracts its object (at most maxObject
// bytes, see ExtractObject) and reads it with cilium/ebpf: no kernel is
// needed. A registry's error is classified (RemoteError); a limit met
// wraps ErrTooLarge; a layer or object that does not read wraps
// ErrInvalidImage.
func ReadObject(ctx context.Context, src oras.ReadOnlyTarget, img PlatformImage, maxLayer, maxObject int64) (*ebpf.CollectionSpec, error) {
	if img.Layer.Size > maxLayer {
		return nil, fmt.Errorf("layer %s is %d bytes, more than the limit of %d: %w", img.Layer.Digest, img.Layer.Size, maxLayer, ErrTooLarge)
	}
	layer, err := content.FetchAll(ctx, src, img.Layer)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", img.Layer.Digest, RemoteError(err))
	}
	obj, err := ExtractObject(layer, maxObject)
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return nil, invalid("layer %s: %w", img.Layer.Digest, err)
	}
	if err != nil {
		return nil, err
	}
	return readSpec(obj)
}

// readSpec reads an object's programs, maps and variables, as the agent
// does (kconfig.ParseSpec: __weak externs parse). The object comes from
// a registry: a panic of the ELF reader is an error.
func readSpec(obj []byte) (spec *ebpf.CollectionSpec, err error) {
	defer func() {
		if r := recover(); r != nil {
			spec, err = nil, invalid("read object: %v", r)
		}
	}()
	spec, _, err = kconfig.ParseSpec(obj)
	if err != nil {
		return nil, invalid("read object: %w", err)
	}
	return spec, nil
}
