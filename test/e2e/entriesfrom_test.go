package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cilium/ebpf"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A list longer than a MapPolicy object holds comes from an OCI artifact:
// the node pulls it by digest and writes it like inline entries, a new
// reference changes the live map without a reload, and deleting the
// policy removes its keys.
func TestMapPolicyEntriesFromArtifact(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host1, ns1, ip1, peer1 := testkernel.VethPair(t)
	host2, ns2, ip2, _ := testkernel.VethPair(t)
	x := xdpFilter(s, "filter-from", host1, host2)
	before := apply(t, s, x)

	const n = 20000 // twice what spec.entries holds
	v1 := pushAddresses(t, s, "v1", append(addresses(n, 0), entry(fmt.Sprintf(`{"addr": %q}`, peer1), `{}`)))
	size := int32(32768)
	mp := blocklist("block-from", x.Name)
	mp.Spec.MaxEntries = &size
	mp.Spec.EntriesFrom = &bpfleetv1.EntriesSource{Image: bpfleetv1.ImageSource{Ref: v1}}
	if err := s.Client.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), mp) })
	waitPolicy(t, s.Client, mp, "MapPolicy Ready with the artifact's entries", func(mp *bpfleetv1.MapPolicy) bool {
		return policyReady(mp) && len(mp.Status.Usage) == 1 && mp.Status.Usage[0].Entries == n+1
	})
	if mp.Status.EntriesImage == nil || mp.Status.EntriesImage.Digest == "" {
		t.Errorf("status.entriesImage = %+v, want the resolved digest", mp.Status.EntriesImage)
	}
	before = nodeEntry(t, s.Client, x.UID) // maxEntries reloaded it once
	if got := testkernel.Ping(t, ns1, ip1, 2); got != 0 {
		t.Errorf("%d pings from the listed %s answered", got, peer1)
	}
	if got := testkernel.Ping(t, ns2, ip2, 2); got != 2 {
		t.Errorf("%d of 2 pings from an unlisted address answered", got)
	}

	// A new list without the address: exact mode removes it, no reload.
	v2 := pushAddresses(t, s, "v2", addresses(n, 0))
	base := mp.DeepCopy()
	mp.Spec.EntriesFrom.Image.Ref = v2
	if err := s.Client.Patch(ctx, mp, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitPolicy(t, s.Client, mp, "MapPolicy Ready with v2", func(mp *bpfleetv1.MapPolicy) bool {
		return policyReady(mp) && mp.Status.Usage[0].Entries == n
	})
	if got := testkernel.Ping(t, ns1, ip1, 2); got != 2 {
		t.Errorf("%d of 2 pings answered after the address left the list", got)
	}
	after := nodeEntry(t, s.Client, x.UID)
	if after.ProgramID != before.ProgramID {
		t.Errorf("program reloaded (%d -> %d); new entries must not reload it", before.ProgramID, after.ProgramID)
	}

	// Deleting the policy removes its keys; its maxEntries goes with it, so
	// the program reloads with the object's own, empty map, and the map the
	// policy filled is freed.
	deletePolicy(t, s.Client, mp)
	waitProgram(t, s.Client, x, "Ready=True", readyNow)
	live := nodeEntry(t, s.Client, x.UID).Objects.MapIDs["blocklist"]
	if got, _, err := maps.Usage(openMap(t, live)); err != nil || got != 0 {
		t.Errorf("%d entries in the live map after the policy was deleted, want 0 (%v)", got, err)
	}
	old := after.Objects.MapIDs["blocklist"]
	poll(t, "the policy's map freed", func(context.Context) bool {
		m, err := ebpf.NewMapFromID(ebpf.MapID(old))
		if err == nil {
			m.Close()
		}
		return err != nil
	}, func() string { return fmt.Sprintf("map %d still in the kernel", old) })
}

// pushAddresses pushes an entries artifact of list to the stack's
// registry; it returns its tag.
func pushAddresses(t testing.TB, s *localstack.Stack, tag string, list []bpfleetv1.MapEntry) string {
	t.Helper()
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	ref := s.Registry + "/lists/blocked:" + tag
	if _, err := oci.PushEntries(context.Background(), ref, b, nil); err != nil {
		t.Fatal(err)
	}
	return ref
}
