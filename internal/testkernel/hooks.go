package testkernel

import (
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
)

// TCXProbe is the agent's probe of the TCX hook: nil where the kernel has
// TCX links (Linux 6.6 and later), else why not. Tests that attach with
// TCX ask it, so that on an older kernel they check the agent's refusal
// instead of failing.
func TCXProbe(t testing.TB) error {
	t.Helper()
	hook, err := attach.Lookup(bpfleetv1.HookTCX)
	if err != nil {
		t.Fatal(err)
	}
	return hook.Probe()
}
