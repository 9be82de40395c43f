package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/pullsecret"
)

// RegistryResolver resolves references against their registry, with the
// program's pull secret read straight from the API (Secrets are not cached).
type RegistryResolver struct {
	Reader client.Reader
}

// Resolve returns the manifest digest img.Ref names.
func (r RegistryResolver) Resolve(ctx context.Context, img *bpfleetv1.ImageSource) (string, error) {
	creds, err := pullsecret.Credentials(ctx, r.Reader, img.PullSecret, img.Ref)
	if err != nil {
		return "", err
	}
	return oci.Resolve(ctx, img.Ref, creds)
}

func pinnedRef(ref, digest string) string { return oci.Pinned(ref, digest) }
