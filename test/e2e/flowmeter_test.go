package e2e

import (
	"context"
	"os/exec"
	"slices"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// The flow meter's stats array: packets flow_ingress saw.
const statIngress = uint32(0)

// TestFlowmeterApplication runs the example application from its image on
// a veth pair: its three programs share the object's maps (bpftool shows
// one stats map in each); then, while pings flow, a fourth program is
// added and one removed in one change, and flow_ingress, which stays,
// counts every packet the interface received across the new revision (its
// link kept, moved to the new program in place).
func TestFlowmeterApplication(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host, ns, hostIP, _ := testkernel.VethPair(t)
	app := flowmeterApp("flowmeter-e2e", s.Images["flowmeter"], flowmeterPrograms(host, "flow_ingress", "flow_egress", "count_drops"))
	if err := s.Client.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Client.Delete(context.Background(), app)
		waitAppGone(t, s.Client, app.Name)
	})
	waitProgram(t, s.Client, app, "Ready=True", readyNow)
	before := runningPrograms(t, s.Client, app, "flow_ingress", "flow_egress", "count_drops")
	stats := nodeEntry(t, s.Client, app.UID).Objects.MapIDs["stats"]
	for name, p := range before {
		if maps := testkernel.BpftoolMapIDs(t, p.ProgramID); !slices.Contains(maps, stats) {
			t.Errorf("bpftool: %s uses maps %v, not the application's stats map %d", name, maps, stats)
		}
	}

	rx0, counted0 := testkernel.RxPackets(t, host), testkernel.MapValue(t, stats, statIngress)
	pings := make(chan error, 1)
	go func() {
		pings <- exec.Command("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "40", "-i", "0.05", hostIP).Run()
	}()
	base := app.DeepCopy()
	app.Spec.Programs = flowmeterPrograms(host, "flow_ingress", "flow_egress", "count_consumed")
	if err := s.Client.Patch(ctx, app, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitProgram(t, s.Client, app, "Ready=True", readyNow)
	if err := <-pings; err != nil {
		t.Fatalf("ping from %s: %v", ns, err)
	}
	after := runningPrograms(t, s.Client, app, "flow_ingress", "flow_egress", "count_consumed")
	statsNow := nodeEntry(t, s.Client, app.UID).Objects.MapIDs["stats"]
	received, counted := testkernel.RxPackets(t, host)-rx0, testkernel.MapValue(t, statsNow, statIngress)-counted0
	if received < 40 || counted != received {
		t.Errorf("flow_ingress counted %d of the %d packets %s received while the application changed", counted, received, host)
	}
	if a, b := after["flow_ingress"].Links[0].LinkID, before["flow_ingress"].Links[0].LinkID; a != b {
		t.Errorf("flow_ingress's link is %d after the change, %d before: not moved in place", a, b)
	}
	if maps := testkernel.BpftoolMapIDs(t, after["count_consumed"].ProgramID); !slices.Contains(maps, statsNow) {
		t.Errorf("bpftool: the added count_consumed uses maps %v, not the application's stats map %d", maps, statsNow)
	}
}

// runningPrograms returns the node's per-program entries of app, by name,
// checking that exactly names run there, each with its program and links.
func runningPrograms(t *testing.T, c client.Client, app *bpfleetv1.ClusterBpfApplication, names ...string) map[string]bpfleetv1.ProgramAttachmentStatus {
	t.Helper()
	e := nodeEntry(t, c, app.UID)
	out := map[string]bpfleetv1.ProgramAttachmentStatus{}
	for _, p := range e.Programs {
		out[p.Name] = p
	}
	if e.State != bpfleetv1.StateReady || e.Generation != app.Generation || len(out) != len(names) {
		t.Fatalf("node entry %+v, want Ready at generation %d with programs %v", e, app.Generation, names)
	}
	for _, n := range names {
		if p := out[n]; p.State != bpfleetv1.StateReady || p.ProgramID == 0 || len(p.Links) == 0 {
			t.Fatalf("%s on the node: %+v, want Ready with its program and links", n, p)
		}
	}
	return out
}
