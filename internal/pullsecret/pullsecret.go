// Package pullsecret reads the registry credentials a program's pull secret
// holds. Operator and agent both read Secrets through it, uncached and only
// the one a program names.
package pullsecret

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// Credentials returns the credentials for imageRef's registry from the
// secret ref names, or nil when ref is nil.
func Credentials(ctx context.Context, r client.Reader, ref *bpfleetv1.SecretReference, imageRef string) (*oci.Credentials, error) {
	if ref == nil {
		return nil, nil
	}
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s); err != nil {
		return nil, fmt.Errorf("pull secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	data, ok := s.Data[corev1.DockerConfigJsonKey]
	if !ok {
		return nil, fmt.Errorf("pull secret %s/%s: no %s key (want type %s)", ref.Namespace, ref.Name, corev1.DockerConfigJsonKey, corev1.SecretTypeDockerConfigJson)
	}
	parsed, err := oci.ParseReference(imageRef)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", imageRef, err)
	}
	creds, err := oci.CredentialsFromDockerConfig(data, parsed.Registry)
	if err != nil {
		return nil, fmt.Errorf("pull secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return creds, nil
}
