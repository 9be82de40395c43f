package image

import (
	"context"
	"sync"
	"time"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
	"github.com/bpfleet/bpfleet/internal/cosign"
	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// Secrets reads from the cluster what a fetch needs besides the registry:
// the credentials a pull secret holds and the public keys a signature
// policy names. The agent reads them from Secrets through the API.
type Secrets interface {
	// Credentials returns the credentials for ref's registry that secret
	// holds, or nil when secret is nil. An error is a pull failure: the
	// Secret may yet appear.
	Credentials(ctx context.Context, secret *bpfleetv1.SecretReference, ref string) (*bpfoci.Credentials, error)
	// PublicKeys returns the keys refs name. Its errors are *Error:
	// SignatureInvalid when a key is missing or malformed (nothing loads
	// unverified), ImagePullFailed when it cannot be read yet.
	PublicKeys(ctx context.Context, refs []bpfleetv1.KeyReference) ([]cosign.Key, error)
}

// Source is an artifact as a node's spec names it.
type Source struct {
	// Ref is a digest-pinned reference (repo@sha256:…); empty with Path.
	Ref string
	// Path of an object file on the node (bytecode only); empty with Ref.
	Path       string
	PullPolicy PullPolicy
	PullSecret *bpfleetv1.SecretReference
	// Verify lists the signature policies the artifact must meet, every
	// one of them.
	Verify []bpfleetv1.ImageVerification
}

// Fetcher fetches artifacts from a Store by digest and refuses those that
// do not meet their signature policies. It remembers for verifiedFor which
// digest passed which policy. It is safe for concurrent use.
type Fetcher struct {
	store   *Store
	secrets Secrets

	mu sync.Mutex
	// verified remembers when a digest last passed a signature policy
	// (see verifiedKey).
	verified map[string]time.Time
}

// NewFetcher fetches through store, reading Secrets through secrets.
func NewFetcher(store *Store, secrets Secrets) *Fetcher {
	return &Fetcher{store: store, secrets: secrets, verified: map[string]time.Time{}}
}

// Bytecode returns the object src names and, for an image, its digest
// (also when its signatures do not verify, for status): read from the
// node's Path, or fetched by digest and verified. Its errors are *Error.
func (f *Fetcher) Bytecode(ctx context.Context, src Source) ([]byte, string, error) {
	if src.Ref == "" {
		if err := pathAllowed(src); err != nil {
			return nil, "", err
		}
		b, err := ReadPath(src.Path)
		return b, "", err
	}
	obj, err := fetchVerified(ctx, f, src, f.store.Fetch)
	switch {
	case obj == nil:
		return nil, "", err
	case err != nil:
		return nil, obj.Digest, err
	}
	return obj.ELF, obj.Digest, nil
}

// Entries returns the map entries artifact src names, fetched by digest
// and verified. Its errors are *Error.
func (f *Fetcher) Entries(ctx context.Context, src Source) (*Entries, error) {
	art, err := fetchVerified(ctx, f, src, f.store.FetchEntries)
	if err != nil {
		return nil, err
	}
	return art, nil
}

// getFunc is Store.Fetch or Store.FetchEntries.
type getFunc[T artifact] func(context.Context, string, *bpfoci.Credentials, PullPolicy) (T, error)

// fetchVerified fetches src with get, counts the fetch, and checks the
// artifact's signatures; an artifact that fails them is returned with the
// error.
func fetchVerified[T artifact](ctx context.Context, f *Fetcher, src Source, get getFunc[T]) (T, error) {
	var none T
	creds, err := f.secrets.Credentials(ctx, src.PullSecret, src.Ref)
	if err != nil {
		return none, &Error{Reason: ReasonPullFailed, Err: err}
	}
	start := time.Now()
	a, err := get(ctx, src.Ref, creds, src.PullPolicy)
	if err != nil {
		countFetch(false, err, start)
		return none, err
	}
	dgst, fromCache := a.source()
	countFetch(fromCache, nil, start)
	return a, f.verify(ctx, src, creds, dgst)
}

// countFetch records a fetch from the store that began at start.
func countFetch(fromCache bool, err error, start time.Time) {
	switch {
	case err != nil:
		metrics.CountImageFetch(metrics.ResultFailed, 0)
	case fromCache:
		metrics.CountImageFetch(metrics.ResultCached, 0)
	default:
		metrics.CountImageFetch(metrics.ResultPulled, time.Since(start))
	}
}
