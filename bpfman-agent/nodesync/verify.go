package nodesync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	godigest "github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
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
func pathAllowed(np *bpfleetv1.NodeProgram) error {
	for i := range np.Verify {
		if np.Verify[i].IsRequired() {
			return &image.Error{Reason: bpfleetv1.ReasonSignatureInvalid, Err: fmt.Errorf(
				"byteCode.path %s cannot be verified, and a signature policy requires signed images", np.Path)}
		}
	}
	return nil
}

// verify checks that the artifact ref (a bytecode image or an entries
// artifact), fetched by digest dgst, meets every signature policy given.
// One that does not is refused with SignatureInvalid (terminal: the agent
// checks again on its next pass, so a signature added later is picked
// up); a registry that cannot be read is a pull failure.
func (r *Reconciler) verify(ctx context.Context, ref string, policies []bpfleetv1.ImageVerification, creds *bpfoci.Credentials, dgst string) error {
	for i := range policies {
		if err := r.verifyPolicy(ctx, ref, &policies[i], creds, godigest.Digest(dgst)); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) verifyPolicy(ctx context.Context, ref string, policy *bpfleetv1.ImageVerification, creds *bpfoci.Credentials, dgst godigest.Digest) error {
	memo := verifiedKey(dgst, policy)
	if at, ok := r.verified[memo]; ok && time.Since(at) < verifiedFor {
		return nil
	}
	keys, err := r.publicKeys(ctx, policy.Keys)
	if err != nil {
		return err
	}
	repo, err := bpfoci.NewRepository(ref, creds)
	if err != nil {
		return &image.Error{Reason: bpfleetv1.ReasonInvalidImage, Err: err}
	}
	_, err = cosign.Verify(ctx, repo, dgst, keys)
	metrics.CountSignatureCheck(signatureResult(err))
	switch {
	case err == nil, errors.Is(err, cosign.ErrUnsigned) && !policy.IsRequired():
		r.rememberVerified(memo)
		return nil
	case errors.Is(err, cosign.ErrUnsigned), errors.Is(err, cosign.ErrNoValidSignature):
		return &image.Error{Reason: bpfleetv1.ReasonSignatureInvalid, Err: fmt.Errorf("image %s: %w", ref, err)}
	}
	return &image.Error{Reason: bpfleetv1.ReasonImagePullFailed, Err: fmt.Errorf("signatures of %s: %w", ref, bpfoci.RemoteError(err))}
}

// rememberVerified records memo as verified now, and forgets the entries
// that expired.
func (r *Reconciler) rememberVerified(memo string) {
	if r.verified == nil {
		r.verified = map[string]time.Time{}
	}
	for k, at := range r.verified {
		if time.Since(at) >= verifiedFor {
			delete(r.verified, k)
		}
	}
	r.verified[memo] = time.Now()
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

// publicKeys reads the keys a policy names from their Secrets. A missing
// Secret or a malformed key refuses the image (nothing loads unverified);
// a Secret that cannot be read yet is retried.
func (r *Reconciler) publicKeys(ctx context.Context, refs []bpfleetv1.KeyReference) ([]cosign.Key, error) {
	keys := make([]cosign.Key, 0, len(refs))
	for _, ref := range refs {
		name := ref.Namespace + "/" + ref.Name
		dataKey := ref.Key
		if dataKey == "" {
			dataKey = "cosign.pub"
		}
		var s corev1.Secret
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s)
		switch {
		case apierrors.IsNotFound(err):
			return nil, &image.Error{Reason: bpfleetv1.ReasonSignatureInvalid, Err: fmt.Errorf("signature key Secret %s: %w", name, err)}
		case err != nil: // forbidden until the operator's grant lands, or the API is away: retry
			return nil, &image.Error{Reason: bpfleetv1.ReasonImagePullFailed, Err: fmt.Errorf("signature key Secret %s: %w", name, err)}
		}
		pub, err := cosign.ParsePublicKey(s.Data[dataKey])
		if err != nil {
			return nil, &image.Error{Reason: bpfleetv1.ReasonSignatureInvalid, Err: fmt.Errorf("signature key Secret %s, key %s: %w", name, dataKey, err)}
		}
		keys = append(keys, cosign.Key{Name: "Secret " + name, Public: pub})
	}
	return keys, nil
}
