package probe

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A probe that ran out of memory or met a busy resource says nothing of
// the kernel: the hook is not published unsupported (the operator would
// take its programs off the node), and the next pass probes it again.
func TestInconclusiveProbeEvictsNothing(t *testing.T) {
	testkernel.Require(t)
	r := Result{Hooks: map[string]string{}, Unknown: map[string]string{}}
	r.record(bpfleetv1.HookXDP, fmt.Errorf("attaching an XDP link fails: %w", unix.ENOMEM))
	r.record(bpfleetv1.HookTCX, fmt.Errorf("probing SchedCLS programs: %w", unix.EBUSY))
	r.record(bpfleetv1.HookKprobe, errors.New("kernel lacks kprobes"))
	caps := r.Capabilities()
	for _, hook := range []string{bpfleetv1.HookXDP, bpfleetv1.HookTCX} {
		if why := caps.Unsupported(hook); why != "" {
			t.Errorf("%s published unsupported after an inconclusive probe: %q", hook, why)
		}
	}
	if caps.Unsupported(bpfleetv1.HookKprobe) == "" {
		t.Error("a hook the kernel lacks was not published unsupported")
	}
	// Probed again, each hook says what its probe says now: XDP runs
	// everywhere; TCX only from Linux 6.6.
	wantTCX := ""
	if h, err := attach.Lookup(bpfleetv1.HookTCX); err != nil {
		t.Fatal(err)
	} else if err := h.Probe(); err != nil {
		wantTCX = err.Error()
	}
	if !r.Retry() || len(r.Unknown) != 0 || r.Hooks[bpfleetv1.HookXDP] != "" || r.Hooks[bpfleetv1.HookTCX] != wantTCX {
		t.Errorf("after a retry: hooks %v, unknown %v; want XDP supported, TCX %q", r.Hooks, r.Unknown, wantTCX)
	}
}
