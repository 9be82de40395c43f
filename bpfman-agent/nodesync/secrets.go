package nodesync

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/internal/cosign"
	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/pullsecret"
)

// apiSecrets reads the Secrets a node's spec names (pull secrets and
// signature keys) through the API, uncached: the agent may read only
// those the operator grants it, one by one.
type apiSecrets struct{ reader client.Reader }

var _ image.Secrets = apiSecrets{}

// Credentials returns the credentials for ref's registry that secret holds.
func (s apiSecrets) Credentials(ctx context.Context, secret *bpfleetv1.SecretReference, ref string) (*bpfoci.Credentials, error) {
	return pullsecret.Credentials(ctx, s.reader, secret, ref)
}

// PublicKeys reads the keys a policy names from their Secrets. A missing
// Secret or a malformed key refuses the image (nothing loads unverified);
// a Secret that cannot be read yet is retried.
func (s apiSecrets) PublicKeys(ctx context.Context, refs []bpfleetv1.KeyReference) ([]cosign.Key, error) {
	keys := make([]cosign.Key, 0, len(refs))
	for _, ref := range refs {
		key, err := s.publicKey(ctx, ref)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func (s apiSecrets) publicKey(ctx context.Context, ref bpfleetv1.KeyReference) (cosign.Key, error) {
	name := ref.Namespace + "/" + ref.Name
	dataKey := ref.Key
	if dataKey == "" {
		dataKey = "cosign.pub"
	}
	var secret corev1.Secret
	err := s.reader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &secret)
	switch {
	case apierrors.IsNotFound(err):
		return cosign.Key{}, &image.Error{Reason: image.ReasonSignatureInvalid, Err: fmt.Errorf("signature key Secret %s: %w", name, err)}
	case err != nil: // forbidden until the operator's grant lands, or the API is away: retry
		return cosign.Key{}, &image.Error{Reason: image.ReasonPullFailed, Err: fmt.Errorf("signature key Secret %s: %w", name, err)}
	}
	pub, err := cosign.ParsePublicKey(secret.Data[dataKey])
	if err != nil {
		return cosign.Key{}, &image.Error{Reason: image.ReasonSignatureInvalid, Err: fmt.Errorf("signature key Secret %s, key %s: %w", name, dataKey, err)}
	}
	return cosign.Key{Name: "Secret " + name, Public: pub}, nil
}
