package attach_test

import (
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
)

// TestEveryKindHasAHook checks that the agent has a hook for every
// registered program kind's hook. An application kind has none of its
// own (each of its programs names one of these).
func TestEveryKindHasAHook(t *testing.T) {
	hooks := map[string]bool{}
	for _, h := range attach.All() {
		hooks[h.Name()] = true
	}
	for _, k := range bpfleetv1.ProgramKinds {
		if k.Hook != "" && !hooks[k.Hook] {
			t.Errorf("%s: the agent has no hook %s (a file in bpfman-agent/attach)", k.Kind, k.Hook)
		}
	}
}
