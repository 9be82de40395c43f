package image

import (
	"errors"
	"strings"
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A file on the node carries no signature: under a policy that requires
// one (the cluster's, say) it is refused, for good; under an optional one
// it loads.
func TestPathUnderASignaturePolicy(t *testing.T) {
	no := false
	required := bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{{SecretReference: bpfleetv1.SecretReference{Name: "k", Namespace: "ns"}}}}
	optional := required
	optional.Required = &no
	src := Source{Path: "/opt/bpf/counter.o", Verify: []bpfleetv1.ImageVerification{optional, required}}
	var ierr *Error
	err := pathAllowed(src)
	if !errors.As(err, &ierr) || ierr.Reason != bpfleetv1.ReasonSignatureInvalid || ierr.Transient() || !strings.Contains(err.Error(), "/opt/bpf/counter.o") {
		t.Errorf("path under a required policy: %v", err)
	}
	src.Verify = src.Verify[:1]
	if err := pathAllowed(src); err != nil {
		t.Errorf("path under an optional policy: %v", err)
	}
}
