package image

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	godigest "github.com/opencontainers/go-digest"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
	"github.com/bpfleet/bpfleet/internal/cosign"
	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// verifiedFor is how long a verified signature is trusted before the
// registry is asked again (a revoked signature or rotated key is noticed
// at the next load after that).
const verifiedFor = 10 * time.Minute

// pathAllowed refuses an object from a path on the node when a policy
// requires signed images: a file carries no signature, and the cluster's
// policy must not be bypassed by loading one.
func pathAllowed(src Source) error {
	for i := range src.Verify {
		if src.Verify[i].IsRequired() {
			return &Error{Reason: ReasonSignatureInvalid, Err: fmt.Errorf(
				"byteCode.path %s cannot be verified, and a signature policy requires signed images", src.Path)}
		}
	}
	return nil
}

// verify checks that the artifact src names (a bytecode image or an
// entries artifact), fetched by digest dgst, meets every signature policy
// of src. One that does not is refused with SignatureInvalid (terminal:
// the agent checks again on its next pass, so a signature added later is
// picked up); a registry that cannot be read is a pull failure.
func (f *Fetcher) verify(ctx context.Context, src Source, creds *bpfoci.Credentials, dgst string) error {
	for i := range src.Verify {
		if err := f.verifyPolicy(ctx, src.Ref, &src.Verify[i], creds, godigest.Digest(dgst)); err != nil {
			return err
		}
	}
	return nil
}

func (f *Fetcher) verifyPolicy(ctx context.Context, ref string, policy *bpfleetv1.ImageVerification, creds *bpfoci.Credentials, dgst godigest.Digest) error {
	memo := verifiedKey(dgst, policy)
	if f.verifiedRecently(memo) {
		return nil
	}
	keys, err := f.secrets.PublicKeys(ctx, policy.Keys)
	if err != nil {
		return err
	}
	repo, err := bpfoci.NewRepositoryClient(ref, creds, f.store.client)
	if err != nil {
		return &Error{Reason: ReasonInvalid, Err: err}
	}
	host := repo.Reference.Registry
	if err := f.store.silent.check(host, time.Now()); err != nil {
		return err
	}
	ctx, cancel := withPullDeadline(ctx, f.store.limits.pull)
	defer cancel()
	_, err = cosign.Verify(ctx, repo, dgst, keys)
	metrics.CountSignatureCheck(signatureResult(err))
	switch {
	case err == nil, errors.Is(err, cosign.ErrUnsigned) && !policy.IsRequired():
		f.rememberVerified(memo)
		return nil
	case errors.Is(err, cosign.ErrUnsigned), errors.Is(err, cosign.ErrNoValidSignature):
		return &Error{Reason: ReasonSignatureInvalid, Err: fmt.Errorf("image %s: %w", ref, err)}
	}
	return f.store.silent.note(host, time.Now(), timedOut(ctx, host, &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("signatures of %s: %w", ref, bpfoci.RemoteError(err))}))
}

// verifiedRecently reports whether memo passed less than verifiedFor ago.
func (f *Fetcher) verifiedRecently(memo string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.verified[memo]
	return ok && time.Since(at) < verifiedFor
}

// rememberVerified records memo as verified now, and forgets the entries
// that expired.
func (f *Fetcher) rememberVerified(memo string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, at := range f.verified {
		if time.Since(at) >= verifiedFor {
			delete(f.verified, k)
		}
	}
	f.verified[memo] = time.Now()
}

func signatureResult(err error) string {
	switch {
	case err == nil:
		return "verified"
	case errors.Is(err, cosign.ErrUnsigned):
		return "unsigned"
	case errors.Is(err, cosign.ErrNoValidSignature):
		return "invalid"
	}
	return "error"
}

// verifiedKey names a digest verified under a policy.
func verifiedKey(dgst godigest.Digest, policy *bpfleetv1.ImageVerification) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%t", dgst, policy.IsRequired())
	for _, k := range policy.Keys {
		fmt.Fprintf(&b, "|%s/%s/%s", k.Namespace, k.Name, k.Key)
	}
	return b.String()
}
