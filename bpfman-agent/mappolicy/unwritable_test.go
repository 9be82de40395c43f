package mappolicy

import (
	"context"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/cosign"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// flowmeterUID is the program running bpf.Flowmeter in these tests.
const flowmeterUID = "flowmeter"

// runFlowmeterIngress runs the flow meter's flow_ingress (TCX, on a veth
// of the test's own; it sends new flows into the ring buffer new_flows;
// see runProgram). On a kernel without TCX (Linux before 6.6), as the
// agent's probe finds, it checks that the program is refused as
// Unsupported and returns false: the map's owner cannot run here.
func runFlowmeterIngress(t *testing.T) (*programs.Manager, map[types.UID][]byte, bool) {
	t.Helper()
	iface, _, _, _ := testkernel.VethPair(t)
	m, objects, err := startProgram(t, programs.Program{
		UID: flowmeterUID, Revision: programs.ParseRevision("1"), Object: bpf.Flowmeter,
		Programs: []programs.Attachment{{Name: "flow_ingress",
			Attach: map[string]attach.Spec{iface: attach.TCX{Interface: iface, Direction: attach.Ingress}}}},
	})
	if probeErr := tcxProbe(t); probeErr != nil {
		if programs.Reason(err) != programs.ReasonUnsupported {
			t.Fatalf("flow_ingress on a kernel without TCX (%v): %v, want Unsupported", probeErr, err)
		}
		t.Logf("no TCX on this kernel (probe: %v): flow_ingress is Unsupported: %v", probeErr, err)
		return nil, nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return m, objects, true
}

// tcxProbe is the agent's probe of the TCX hook: nil where the kernel has
// TCX links.
func tcxProbe(t *testing.T) error {
	t.Helper()
	hook, err := attach.Lookup(bpfleetv1.HookTCX)
	if err != nil {
		t.Fatal(err)
	}
	return hook.Probe()
}

// noSecrets is the Secrets of a policy that names none: no pull secret,
// no signature key.
type noSecrets struct{}

func (noSecrets) Credentials(context.Context, *bpfleetv1.SecretReference, string) (*oci.Credentials, error) {
	return nil, nil
}

func (noSecrets) PublicKeys(context.Context, []bpfleetv1.KeyReference) ([]cosign.Key, error) {
	return nil, nil
}

// TestEntriesIntoARingBufferAreTerminal applies a policy whose entries
// (from an artifact on a real registry) go to the flow meter's ring
// buffer, which holds no keys: the node reports it Failed, terminal,
// naming the map, its type and what a MapPolicy writes, returns no error
// (no backoff: retrying cannot help), writes nothing in the ledger, and
// the next pass does not try the write again. A policy with nothing to
// write (one that only sizes or shares the map) is Ready.
func TestEntriesIntoARingBufferAreTerminal(t *testing.T) {
	testkernel.Require(t)
	mgr, objects, ok := runFlowmeterIngress(t)
	if !ok {
		return
	}
	ref := ocitest.Serve(t, nil) + "/entries/ring:v1"
	dgst, err := oci.PushEntries(context.Background(), ref, []byte(`[{"key": 1, "value": 2}]`), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := image.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &Writer{programs: mgr, images: image.NewFetcher(store, noSecrets{}), written: ledger{dir: t.TempDir()}}
	nmp := &bpfleetv1.NodeMapPolicy{UID: "ring", Name: "ring", MapName: "new_flows", Generation: 1,
		Programs: []types.UID{flowmeterUID}, EntriesFrom: &bpfleetv1.NodeEntriesSource{Image: oci.Pinned(ref, dgst)}}
	for pass := 1; pass <= 2; pass++ {
		st, err := w.applyPolicy(context.Background(), nmp, objects)
		if err != nil || st.State != bpfleetv1.StateFailed || !st.Terminal || st.Reason != bpfleetv1.ReasonInvalidSpec {
			t.Fatalf("pass %d: %s %s terminal=%v %q, error %v; want Failed, InvalidSpec, terminal, no error", pass, st.State, st.Reason, st.Terminal, st.Message, err)
		}
		for _, want := range []string{`map "new_flows"`, "RingBuf", "hash, LRU hash, array"} {
			if !strings.Contains(st.Message, want) {
				t.Errorf("pass %d: message %q does not say %q", pass, st.Message, want)
			}
		}
		if _, ok := w.applied[nmp.UID]; !ok {
			t.Fatalf("pass %d: the terminal failure is not remembered: the next pass writes again", pass)
		}
	}
	if keys, err := w.written.keys(nmp.UID); err != nil || keys != nil {
		t.Errorf("ledger holds %v (%v) for a policy that wrote nothing", keys, err)
	}

	spec := testkernel.MapSpecOf(t, bpf.Flowmeter, "new_flows")
	sizing := &bpfleetv1.NodeMapPolicy{UID: "sizing", Name: "sizing", MapName: "new_flows"}
	st, done, err := w.writeEntries(sizing, bpfleetv1.NodeMapPolicyStatus{State: bpfleetv1.StateReady}, spec, []*ebpf.Map{testkernel.NewMap(t, spec)}, nil)
	if err != nil || !done || st.State != bpfleetv1.StateReady {
		t.Errorf("a policy with no entries on a ring buffer: %s %s %q done=%v, %v; want Ready, done", st.State, st.Reason, st.Message, done, err)
	}
}
