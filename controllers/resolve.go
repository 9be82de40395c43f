package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/pullsecret"
)

// RegistryResolver resolves references against their registry, with the
// program's pull secret read straight from the API (Secrets are not
// cached), and reads what the images of the digests hold, once per
// digest (see contents).
type RegistryResolver struct {
	Reader client.Reader
	cache  *imageCache
}

// NewRegistryResolver is a RegistryResolver reading Secrets with reader.
func NewRegistryResolver(reader client.Reader) *RegistryResolver {
	return &RegistryResolver{Reader: reader, cache: newImageCache()}
}

// Resolve returns the manifest digest img.Ref names. It reads the
// manifest (a GET rather than a HEAD: one request), which the read of the
// image's contents then takes.
func (r *RegistryResolver) Resolve(ctx context.Context, img *bpfleetv1.ImageSource) (string, error) {
	creds, err := pullsecret.Credentials(ctx, r.Reader, img.PullSecret, img.Ref)
	if err != nil {
		return "", err
	}
	_, desc, raw, err := oci.ResolveManifest(ctx, img.Ref, creds)
	if err != nil {
		return "", err
	}
	r.cache.remember(fetchedRoot{desc: desc, raw: raw})
	return desc.Digest.String(), nil
}

func pinnedRef(ref, digest string) string { return oci.Pinned(ref, digest) }

// resolved reports whether st holds the digest of img's reference (always
// true without an image).
func resolved(img *bpfleetv1.ImageSource, st *bpfleetv1.ResolvedImage) bool {
	return img == nil || (st != nil && st.Ref == img.Ref && st.Digest != "")
}

// resolveOnce records in *st the digest img names, going to the registry
// only for a reference not resolved yet. Without an image it clears *st.
// An image naming a Secret outside the served namespaces is refused before
// any Secret is read, and *st cleared too: what is not resolved is not
// scheduled, so no node is asked to read that Secret (nodes keep what
// they run). Its errors are classified (resolveError,
// SecretNamespaces.checkImage).
func resolveOnce(ctx context.Context, r Resolver, served SecretNamespaces, img *bpfleetv1.ImageSource, st **bpfleetv1.ResolvedImage) error {
	if img == nil {
		*st = nil
		return nil
	}
	if err := served.checkImage(img); err != nil {
		*st = nil
		return err
	}
	if resolved(img, *st) {
		return nil
	}
	digest, err := r.Resolve(ctx, img)
	if err != nil {
		return resolveError(err)
	}
	*st = &bpfleetv1.ResolvedImage{Ref: img.Ref, Digest: digest}
	return nil
}
