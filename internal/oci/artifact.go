package oci

import (
	"bytes"
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
)

// Artifact is a built image (or map entries artifact), held in memory until
// it is copied to a registry or an OCI layout.
type Artifact struct {
	// Root is the image manifest, or the index of a multi-platform image.
	Root  ocispec.Descriptor
	store *memory.Store
}

// Progress is told about each blob and manifest CopyTo sends: copied is
// false for one the destination already holds.
type Progress func(desc ocispec.Descriptor, copied bool)

// blob is a descriptor and the content it describes.
type blob struct {
	ocispec.Descriptor
	data []byte
}

func newBlob(mediaType string, data []byte) blob {
	return blob{Descriptor: content.NewDescriptorFromBytes(mediaType, data), data: data}
}

// newArtifact holds root and the blobs it names (children before parents).
func newArtifact(ctx context.Context, root blob, blobs ...blob) (*Artifact, error) {
	store := memory.New()
	for _, b := range append(blobs, root) {
		if err := store.Push(ctx, b.Descriptor, bytes.NewReader(b.data)); err != nil {
			return nil, fmt.Errorf("hold %s: %w", b.Digest, err)
		}
	}
	return &Artifact{Root: root.Descriptor, store: store}, nil
}

// CopyTo copies the artifact to dst and tags it tag; with tag "" it is
// pushed by digest only. Blobs dst already holds are not sent again.
// progress may be nil.
func (a *Artifact) CopyTo(ctx context.Context, dst oras.Target, tag string, progress Progress) error {
	return Copy(ctx, a.store, dst, a.Root, tag, progress)
}

// Copy copies the image (or index, with its images) that root names from
// src to dst, children first, and tags it tag ("" or root's digest: by
// digest only). progress may be nil.
func Copy(ctx context.Context, src oras.ReadOnlyTarget, dst oras.Target, root ocispec.Descriptor, tag string, progress Progress) error {
	opts := oras.DefaultCopyGraphOptions
	if progress != nil {
		opts.PostCopy = func(_ context.Context, d ocispec.Descriptor) error { progress(d, true); return nil }
		opts.OnCopySkipped = func(_ context.Context, d ocispec.Descriptor) error { progress(d, false); return nil }
	}
	if err := oras.CopyGraph(ctx, src, dst, root, opts); err != nil {
		return err
	}
	if tag == "" || tag == root.Digest.String() {
		return nil
	}
	return dst.Tag(ctx, root, tag)
}

// Fetch returns the content of a descriptor the artifact holds.
func (a *Artifact) Fetch(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	return content.FetchAll(ctx, a.store, desc)
}

// pushTo copies a to the repository ref names, tagged as ref says, and
// returns the root digest.
func (a *Artifact) pushTo(ctx context.Context, ref string, creds *Credentials) (string, error) {
	repo, err := NewRepository(ref, creds)
	if err != nil {
		return "", err
	}
	if err := a.CopyTo(ctx, repo, repo.Reference.Reference, nil); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, RemoteError(err))
	}
	return a.Root.Digest.String(), nil
}
