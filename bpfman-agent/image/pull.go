package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// pull copies the image dgst names from the registry into the layout:
// blobs first, manifests last, so that a manifest in the layout means the
// whole image is there. It gives up after the pull timeout, and says the
// registry timed out then, or when a request did; a registry that timed
// out is not asked again for a while (see silentFor).
func (s *Store) pull(ctx context.Context, ref string, creds *bpfoci.Credentials, dgst digest.Digest) error {
	repo, err := bpfoci.NewRepositoryClient(ref, creds, s.client)
	if err != nil {
		return &Error{Reason: ReasonInvalid, Err: err}
	}
	host := repo.Reference.Registry
	if err := s.silent.check(host, time.Now()); err != nil {
		return err
	}
	ctx, cancel := withPullDeadline(ctx, s.limits.pull)
	defer cancel()
	return s.silent.note(host, time.Now(), timedOut(ctx, host, s.pullFrom(ctx, repo, dgst)))
}

// pullFrom is pull, from repo.
func (s *Store) pullFrom(ctx context.Context, repo *remote.Repository, dgst digest.Digest) error {
	root, err := s.fetchRoot(ctx, repo, dgst)
	if err != nil {
		return err
	}
	nodes, img, err := walk(ctx, root, s.fetchRemote(repo), s.limits)
	if err != nil {
		return err
	}
	for _, desc := range []ocispec.Descriptor{img.config, img.layer} {
		if err := s.copyBlob(ctx, repo, desc); err != nil {
			return err
		}
	}
	for _, n := range nodes {
		if err := s.store(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// fetchRoot fetches the manifest or index dgst names, verified.
func (s *Store) fetchRoot(ctx context.Context, repo *remote.Repository, dgst digest.Digest) (node, error) {
	desc, rc, err := repo.Manifests().FetchReference(ctx, dgst.String())
	if err != nil {
		return node{}, remoteError(err)
	}
	defer rc.Close()
	data, err := readVerified(rc, ocispec.Descriptor{MediaType: desc.MediaType, Digest: dgst}, s.limits.manifest)
	if err != nil {
		return node{}, err
	}
	return node{Descriptor: content.NewDescriptorFromBytes(desc.MediaType, data), data: data}, nil
}

// fetchRemote returns a fetchFunc reading manifests from repo.
func (s *Store) fetchRemote(repo *remote.Repository) fetchFunc {
	return func(ctx context.Context, desc ocispec.Descriptor, limit int64) ([]byte, error) {
		rc, err := repo.Manifests().Fetch(ctx, desc)
		if err != nil {
			return nil, remoteError(err)
		}
		defer rc.Close()
		return readVerified(rc, desc, limit)
	}
}

// copyBlob streams a blob from the registry into the layout, which checks
// its size and digest; sizes were checked against the limits before.
func (s *Store) copyBlob(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor) error {
	if ok, err := s.layout.Exists(ctx, desc); err == nil && ok {
		return nil
	}
	rc, err := repo.Blobs().Fetch(ctx, desc)
	if err != nil {
		return remoteError(err)
	}
	defer rc.Close()
	return s.restrict(desc, s.storeError(desc, s.layout.Push(ctx, desc, rc)))
}

// store writes a verified manifest into the layout.
func (s *Store) store(ctx context.Context, n node) error {
	return s.restrict(n.Descriptor, s.storeError(n.Descriptor, s.layout.Push(ctx, n.Descriptor, bytes.NewReader(n.data))))
}

// storeError is storeError, after removing what a failed store of desc
// left in ingest/: oras-go (v2.7) leaves its partial download there, and
// on a full disk that is what holds the space.
func (s *Store) storeError(desc ocispec.Descriptor, err error) error {
	err = storeError(desc, err)
	if err != nil {
		removeIngestOf(s.dir, desc.Digest)
	}
	return err
}

// restrict makes the blob of desc, just stored (unless err), readable by
// its owner only: oras-go makes it readable by all.
func (s *Store) restrict(desc ocispec.Descriptor, err error) error {
	if err != nil {
		return err
	}
	if err := os.Chmod(s.blobPath(desc.Digest), blobMode); err != nil {
		return &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("store %s: %w", desc.Digest, err)}
	}
	return nil
}

func storeError(desc ocispec.Descriptor, err error) error {
	switch {
	case err == nil, errors.Is(err, errdef.ErrAlreadyExists):
		return nil
	case errors.Is(err, content.ErrMismatchedDigest), errors.Is(err, content.ErrTrailingData):
		return newError(ReasonInvalid, "%w: the registry served content for %s that is not it: %w", errDigestMismatch, desc.Digest, err)
	}
	return &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("store %s: %w", desc.Digest, err)}
}

func remoteError(err error) error {
	return &Error{Reason: ReasonPullFailed, Err: bpfoci.RemoteError(err)}
}
