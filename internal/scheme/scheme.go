// Package scheme builds the runtime scheme every bpfleet binary uses:
// the Kubernetes built-in types and bpfleet.io/v1alpha1.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// New returns a scheme with core Kubernetes types and bpfleet's.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(bpfleetv1.AddToScheme(s))
	return s
}
