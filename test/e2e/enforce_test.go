package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/nodereport"
)

// Deleting the Node object of a host whose agent runs (kubectl delete node,
// a remediation tool, a kubelet registering again), or its NodeProgramSet,
// unloads nothing: only a spec the operator writes does (issue 14).
func TestNodeOrSetDeletedUnloadsNothing(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	p := counter("enforced", s.Example, nil)
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Client, p.Name)
	running := nodeEntry(t, s.Client, p.UID)

	var n corev1.Node
	if err := s.Client.Get(ctx, types.NamespacedName{Name: node}, &n); err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Delete(ctx, &n); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the operator and the agent answer at once
	assertRunning(t, running, "after its Node was deleted")

	// The set deleted by hand: the agent makes it anew, empty and not
	// scheduled, and keeps running what it runs.
	var set bpfleetv1.NodeProgramSet
	if err := s.Client.Get(ctx, types.NamespacedName{Name: node}, &set); err != nil {
		t.Fatalf("the set of a deleted Node whose agent runs: %v, want it kept", err)
	}
	if err := s.Client.Delete(ctx, &set); err != nil {
		t.Fatal(err)
	}
	poll(t, "the agent to make its set anew and report", func(ctx context.Context) bool {
		var again bpfleetv1.NodeProgramSet
		err := s.Client.Get(ctx, types.NamespacedName{Name: node}, &again)
		return err == nil && again.UID != set.UID && nodeEntryOrZero(ctx, s, p.UID).Reason == bpfleetv1.ReasonNotScheduled
	}, func() string {
		var again bpfleetv1.NodeProgramSet
		err := s.Client.Get(ctx, types.NamespacedName{Name: node}, &again)
		return fmt.Sprintf("set %v uid %s (was %s) spec %+v; entry %+v", err, again.UID, set.UID, again.Spec, nodeEntryOrZero(ctx, s, p.UID))
	})
	assertRunning(t, running, "after its set was deleted")

	// The Node comes back: the operator writes the spec, the program is
	// adopted, not reloaded.
	n.ResourceVersion, n.UID = "", ""
	if err := s.Client.Create(ctx, &n); err != nil {
		t.Fatal(err)
	}
	poll(t, "the program Ready again on the node", func(ctx context.Context) bool {
		st := nodeEntryOrZero(ctx, s, p.UID)
		return st.State == bpfleetv1.StateReady && st.Reason == "" && st.ProgramID == running.ProgramID
	}, func() string { return "not Ready with the same program ID" })
}

// assertRunning fails unless the program st reports is in the kernel,
// pinned.
func assertRunning(t *testing.T, st bpfleetv1.NodeProgramStatus, when string) {
	t.Helper()
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(st.ProgramID))
	if err != nil {
		t.Fatalf("program %d %s: %v, want it still loaded", st.ProgramID, when, err)
	}
	prog.Close()
	if _, err := os.Stat(st.PinPath); err != nil {
		t.Fatalf("pin %s %s: %v, want it kept", st.PinPath, when, err)
	}
}

// nodeEntryOrZero is the node's report entry for uid, or a zero entry.
func nodeEntryOrZero(ctx context.Context, s *localstack.Stack, uid types.UID) bpfleetv1.NodeProgramStatus {
	e, _ := nodereport.Entry(ctx, s.Client, node, uid)
	return e
}
