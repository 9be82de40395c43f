package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

const updates = 50

// While ping floods a veth, the XDP program on it is replaced 50 times
// through the API. Every packet the interface received must be counted by
// exactly one revision: the counter, one map shared by every revision (a
// MapPolicy), rises by the interface's rx_packets delta. (A map of the
// program's own would do as well here: a new revision uses it as it is
// while its definition is unchanged. A new maxEntries copies it into a new
// map, and the packets the old revision counts after the copy are left
// out; a shared map stays one map.)
func TestFiftyUpdatesMissNoPacket(t *testing.T) {
	s := startStack(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	x := xdpProgram(s, "xdp-zero-gap", "xdp-counter", "xdp_count", host)
	mp := &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "xdp-zero-gap-packets"},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "XdpProgram", Name: x.Name}}},
			MapName:  "packets", Shared: true,
		},
	}
	if err := s.Client.Create(context.Background(), mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), mp) })
	apply(t, s, x)
	// The policy reaches the node once the operator accepted it: the
	// program may run with its own map first.
	waitPolicy(t, s.Client, mp, "MapPolicy Ready", policyReady)
	st := nodeEntry(t, s.Client, x.GetUID())
	shared := st.Objects.MapIDs["packets"]
	start := testkernel.MapValue(t, shared, uint32(0))
	rx0 := testkernel.RxPackets(t, host)

	flood := exec.Command("ip", "netns", "exec", ns, "ping", "-q", "-i", "0.002", hostIP)
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	var latency time.Duration
	for i := range updates {
		began := time.Now()
		st = update(t, s.Client, x, strconv.Itoa(i%2))
		latency += time.Since(began)
		if st.Objects.MapIDs["packets"] != shared {
			t.Fatalf("update %d: counter map %d, want the shared map %d", i, st.Objects.MapIDs["packets"], shared)
		}
	}
	_ = flood.Process.Kill()
	_ = flood.Wait()
	time.Sleep(200 * time.Millisecond)

	received := testkernel.RxPackets(t, host) - rx0
	counted := testkernel.MapValue(t, shared, uint32(0)) - start
	t.Logf("%d updates: %d packets received, %d counted, %d missed; mean update latency %v",
		updates, received, counted, int64(received)-int64(counted), latency/updates)
	if received < 300 {
		t.Fatalf("only %d packets crossed the veth during the updates; the test needs traffic", received)
	}
	if counted != received {
		t.Fatalf("counted %d packets over %d revisions, the interface received %d: the hook was empty or doubled",
			counted, updates+1, received)
	}
}

// update sets drop_icmp, which makes a new revision (dropped packets are
// counted too), and waits until the node runs it.
func update(t *testing.T, c client.Client, x *bpfleetv1.XdpProgram, dropICMP string) bpfleetv1.NodeProgramStatus {
	t.Helper()
	base := x.DeepCopy()
	x.Spec.GlobalData = map[string]bpfleetv1.GlobalValue{"drop_icmp": bpfleetv1.GlobalValue(dropICMP)}
	if err := c.Patch(context.Background(), x, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitProgram(t, c, x, "Ready=True", readyNow)
	return nodeEntry(t, c, x.UID)
}

func openMap(t testing.TB, id uint32) *ebpf.Map {
	t.Helper()
	m, err := ebpf.NewMapFromID(ebpf.MapID(id))
	if err != nil {
		t.Fatalf("map %d: %v", id, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
