package nodesync

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Scheme is the agent's scheme: the types it reads and writes (its node's
// set and report, MapPolicies, pull Secrets, its Lease), not every
// Kubernetes group, each of which the scheme would hold in memory.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(s))
	utilruntime.Must(coordinationv1.AddToScheme(s))
	utilruntime.Must(bpfleetv1.AddToScheme(s))
	return s
}
