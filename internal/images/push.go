package images

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/bpfleet/bpfleet/internal/oci"
)

// Push pushes idx, its images and their blobs to ref, a tag reference such
// as "registry.example.com/bpfleet/bpfman-agent:dev", and returns the
// index's digest.
func Push(ctx context.Context, idx v1.ImageIndex, ref string) (string, error) {
	r, err := parseReference(ref)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	err = remote.WriteIndex(r, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	return d.String(), nil
}

// parseReference parses ref, for plain HTTP if its registry is on a
// loopback address.
func parseReference(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref, name.StrictValidation)
	if err != nil || !oci.IsLoopback(r.Context().RegistryStr()) {
		return r, err
	}
	return name.ParseReference(ref, name.StrictValidation, name.Insecure)
}
