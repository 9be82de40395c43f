package oci

import (
	"context"
	"fmt"
)

// Resolve returns the manifest digest ("sha256:...") that ref names. ref is
// "host/repo:tag" or "host/repo@sha256:..."; for a digest reference Resolve
// checks that the registry holds it; with neither, the tag is "latest", as
// for container runtimes. creds may be nil.
func Resolve(ctx context.Context, ref string, creds *Credentials) (string, error) {
	repo, err := NewRepository(ref, creds)
	if err != nil {
		return "", err
	}
	reference := repo.Reference.Reference
	if reference == "" {
		reference = "latest"
	}
	desc, err := repo.Resolve(ctx, reference)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", ref, RemoteError(err))
	}
	return desc.Digest.String(), nil
}
