package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	dto "github.com/prometheus/client_model/go"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func entry(key, value string) bpfleetv1.MapEntry {
	return bpfleetv1.MapEntry{Key: apiextensionsv1.JSON{Raw: []byte(key)}, Value: apiextensionsv1.JSON{Raw: []byte(value)}}
}

func blocklist(name, program string, entries ...bpfleetv1.MapEntry) *bpfleetv1.MapPolicy {
	return &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "XdpProgram", Name: program}}},
			MapName:  "blocklist",
			Entries:  entries,
			Mode:     bpfleetv1.MapExact,
		},
	}
}

// waitPolicy waits until the policy is reported at its generation and ok
// holds.
func waitPolicy(t testing.TB, c client.Client, mp *bpfleetv1.MapPolicy, what string, ok func(*bpfleetv1.MapPolicy) bool) {
	t.Helper()
	poll(t, what, func(ctx context.Context) bool {
		if err := c.Get(ctx, client.ObjectKeyFromObject(mp), mp); err != nil {
			return false
		}
		return mp.Status.ObservedGeneration == mp.Generation && ok(mp)
	}, func() string { return fmt.Sprintf("%+v", mp.Status) })
}

func policyReady(mp *bpfleetv1.MapPolicy) bool {
	return meta.IsStatusConditionTrue(mp.Status.Conditions, bpfleetv1.ConditionReady) && mp.Status.Nodes.Ready == 1
}

func xdpFilter(s *localstack.Stack, name string, ifaces ...string) *bpfleetv1.XdpProgram {
	return xdpProgram(s, name, "xdp-filter", "xdp_filter", ifaces...)
}

// xdpProgram runs program of an example image in generic mode on ifaces.
func xdpProgram(s *localstack.Stack, name, example, program string, ifaces ...string) *bpfleetv1.XdpProgram {
	sel := bpfleetv1.InterfaceSelector{}
	for _, i := range ifaces {
		sel.Names = append(sel.Names, bpfleetv1.InterfaceName(i))
	}
	return &bpfleetv1.XdpProgram{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.XdpProgramSpec{
			ProgramCommon: common(s, example, program),
			XDP:           bpfleetv1.XDPAttach{Interfaces: sel, Mode: bpfleetv1.XDPGeneric},
		},
	}
}

// A MapPolicy steers a running XDP filter: listing an address blocks it,
// removing it unblocks it, and the program is never reloaded.
func TestMapPolicyBlocksAndUnblocks(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host1, ns1, ip1, peer1 := testkernel.VethPair(t)
	host2, ns2, ip2, _ := testkernel.VethPair(t)
	x := xdpFilter(s, "filter", host1, host2)
	before := apply(t, s, x)

	mp := blocklist("block-one", x.Name, entry(fmt.Sprintf(`{"addr": %q}`, peer1), `{}`))
	if err := s.Client.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), mp) })
	waitPolicy(t, s.Client, mp, "MapPolicy Ready", policyReady)
	if got := testkernel.Ping(t, ns1, ip1, 2); got != 0 {
		t.Errorf("%d pings from the blocked %s answered", got, peer1)
	}
	if got := testkernel.Ping(t, ns2, ip2, 2); got != 2 {
		t.Errorf("%d of 2 pings from an unlisted address answered", got)
	}
	if u := mp.Status.Usage; len(u) != 1 || u[0].Entries != 1 || u[0].MaxEntries != 1024 {
		t.Errorf("usage %+v, want 1 of 1024 entries", u)
	}

	base := mp.DeepCopy()
	mp.Spec.Entries = nil
	if err := s.Client.Patch(ctx, mp, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitPolicy(t, s.Client, mp, "MapPolicy Ready with no entries", policyReady)
	if got := testkernel.Ping(t, ns1, ip1, 2); got != 2 {
		t.Errorf("%d of 2 pings answered after the address was removed", got)
	}
	if after := nodeEntry(t, s.Client, x.UID); after.ProgramID != before.ProgramID {
		t.Errorf("program reloaded (%d -> %d); entries must change without a reload", before.ProgramID, after.ProgramID)
	}

	// Deleting the policy removes the keys it wrote before it goes.
	base = mp.DeepCopy()
	mp.Spec.Entries = []bpfleetv1.MapEntry{entry(fmt.Sprintf(`{"addr": %q}`, peer1), `{}`)}
	if err := s.Client.Patch(ctx, mp, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitPolicy(t, s.Client, mp, "blocking again", policyReady)
	if got := testkernel.Ping(t, ns1, ip1, 2); got != 0 {
		t.Fatalf("%d pings answered while %s is listed again", got, peer1)
	}
	if err := s.Client.Delete(ctx, mp); err != nil {
		t.Fatal(err)
	}
	poll(t, "policy deleted", func(ctx context.Context) bool {
		return apierrors.IsNotFound(s.Client.Get(ctx, client.ObjectKeyFromObject(mp), &bpfleetv1.MapPolicy{}))
	}, func() string { return fmt.Sprintf("%+v", mp.Status) })
	if got := testkernel.Ping(t, ns1, ip1, 2); got != 2 {
		t.Errorf("%d of 2 pings answered after the policy was deleted: its entries must go with it", got)
	}
}

// A merge policy manages the keys it lists: a key it stops listing is
// removed, after an agent restart too; keys it never listed stay.
func TestMapPolicyMergeRemovesKeysItNoLongerLists(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host1, ns1, ip1, peer1 := testkernel.VethPair(t)
	x := xdpFilter(s, "filter-merge", host1)
	apply(t, s, x)
	other := blocklist("merge-other", x.Name, entry(`{"addr": "192.0.2.1"}`, `{}`))
	other.Spec.Mode = bpfleetv1.MapMerge
	mp := blocklist("merge-mine", x.Name, entry(fmt.Sprintf(`{"addr": %q}`, peer1), `{}`), entry(`{"addr": "192.0.2.2"}`, `{}`))
	mp.Spec.Mode = bpfleetv1.MapMerge
	for _, p := range []*bpfleetv1.MapPolicy{other, mp} {
		if err := s.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Client.Delete(context.Background(), p) })
		waitPolicy(t, s.Client, p, p.Name+" Ready", policyReady)
	}
	if got := testkernel.Ping(t, ns1, ip1, 2); got != 0 {
		t.Fatalf("%d pings from the listed %s answered", got, peer1)
	}

	if err := s.RestartAgent(); err != nil {
		t.Fatal(err)
	}
	base := mp.DeepCopy()
	mp.Spec.Entries = mp.Spec.Entries[1:]
	if err := s.Client.Patch(ctx, mp, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitPolicy(t, s.Client, mp, "two keys left", func(mp *bpfleetv1.MapPolicy) bool {
		return policyReady(mp) && len(mp.Status.Usage) == 1 && mp.Status.Usage[0].Entries == 2
	})
	if got := testkernel.Ping(t, ns1, ip1, 2); got != 2 {
		t.Errorf("%d of 2 pings answered after %s left the merge policy's list", got, peer1)
	}
}

// Entries the map cannot take are reported per node; the good ones are
// written unless the policy is atomic.
func TestMapPolicyBadEntriesAreReported(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host, ns, ip, peer := testkernel.VethPair(t)
	x := xdpFilter(s, "filter-bad", host)
	apply(t, s, x)
	good := entry(fmt.Sprintf(`{"addr": %q}`, peer), `{}`)
	mp := blocklist("bad-entries", x.Name, good, entry(`"0x0a00"`, `{}`))
	if err := s.Client.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), mp) })
	waitPolicy(t, s.Client, mp, "Stalled with BadEntries", func(mp *bpfleetv1.MapPolicy) bool {
		return meta.IsStatusConditionTrue(mp.Status.Conditions, bpfleetv1.ConditionStalled)
	})
	if f := mp.Status.Failures; len(f) != 1 || f[0].Reason != bpfleetv1.ReasonBadEntries || !strings.Contains(f[0].Message, "entry 1") {
		t.Fatalf("failures %+v, want entry 1 refused", f)
	}
	t.Logf("status says: %s", mp.Status.Failures[0].Message)
	if got := testkernel.Ping(t, ns, ip, 2); got != 0 {
		t.Errorf("%d pings answered: the good entry should have been written", got)
	}

	base := mp.DeepCopy()
	mp.Spec.Atomic = true
	mp.Spec.Entries = []bpfleetv1.MapEntry{entry(`"0x0a00"`, `{}`)}
	if err := s.Client.Patch(ctx, mp, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitPolicy(t, s.Client, mp, "Stalled, atomic", func(mp *bpfleetv1.MapPolicy) bool {
		return meta.IsStatusConditionTrue(mp.Status.Conditions, bpfleetv1.ConditionStalled) &&
			len(mp.Status.Failures) == 1 && strings.Contains(mp.Status.Failures[0].Message, "none written")
	})
}

// maxEntries is applied at load: the program is reloaded through the
// zero-gap path (new program ID, same XDP link) with the new map size.
func TestMapPolicyMaxEntriesReloadsWithoutAGap(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host, _, _, _ := testkernel.VethPair(t)
	x := xdpFilter(s, "filter-size", host)
	before := apply(t, s, x)
	size := int32(4096)
	mp := blocklist("bigger", x.Name)
	mp.Spec.MaxEntries = &size
	if err := s.Client.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), mp) })
	waitPolicy(t, s.Client, mp, "usage shows 4096", func(mp *bpfleetv1.MapPolicy) bool {
		return policyReady(mp) && len(mp.Status.Usage) == 1 && mp.Status.Usage[0].MaxEntries == size
	})
	after := nodeEntry(t, s.Client, x.UID)
	if after.ProgramID == before.ProgramID || linkOn(t, after, host).LinkID != linkOn(t, before, host).LinkID {
		t.Errorf("program %d -> %d, link %d -> %d; want a new program in the same link",
			before.ProgramID, after.ProgramID, linkOn(t, before, host).LinkID, linkOn(t, after, host).LinkID)
	}
}

// Two programs share one map through a policy: one map ID on the node.
func TestMapPolicySharesAMap(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	a := counter("shared-a", s.Example, nil)
	b := counter("shared-b", s.Example, nil)
	mp := &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "shared-counts"},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "TracepointProgram", Name: a.Name}, {Kind: "TracepointProgram", Name: b.Name}}},
			MapName:  "counts", Shared: true,
		},
	}
	if err := s.Client.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), mp) })
	sa, sb := apply(t, s, a), apply(t, s, b)
	waitPolicy(t, s.Client, mp, "MapPolicy Ready", policyReady)
	sa, sb = nodeEntry(t, s.Client, a.UID), nodeEntry(t, s.Client, b.UID)
	if sa.Objects.MapIDs["counts"] == 0 || sa.Objects.MapIDs["counts"] != sb.Objects.MapIDs["counts"] {
		t.Fatalf("counts map IDs %d and %d, want one shared map", sa.Objects.MapIDs["counts"], sb.Objects.MapIDs["counts"])
	}
	if sa.Objects.MapIDs["total"] == sb.Objects.MapIDs["total"] {
		t.Errorf("the unshared map total is shared too (%d)", sa.Objects.MapIDs["total"])
	}
	shared := sa.Objects.MapIDs["counts"]
	before := countFor(t, shared)
	testkernel.OpenFiles(t, 10)
	if n := countFor(t, shared) - before; n < 20 {
		t.Errorf("shared counter rose by %d after 10 opens seen by two programs, want >= 20", n)
	}

	deleteAndWait(t, s.Client, a)
	if m, err := ebpf.NewMapFromID(ebpf.MapID(shared)); err != nil {
		t.Fatalf("shared map gone after deleting one of its two programs: %v", err)
	} else {
		m.Close()
	}
	deleteAndWait(t, s.Client, b)
	poll(t, "shared pins removed", func(context.Context) bool {
		entries, _ := os.ReadDir(filepath.Join(pinRoot, "shared"))
		return len(entries) == 0
	}, func() string { return "pins under " + filepath.Join(pinRoot, "shared") })
	poll(t, "shared map freed", func(context.Context) bool {
		m, err := ebpf.NewMapFromID(ebpf.MapID(shared))
		if err == nil {
			m.Close()
		}
		return err != nil
	}, func() string { return fmt.Sprintf("map %d still in the kernel", shared) })
}

// An exported map is published by the agent as Prometheus series at
// scrape time: key fields as labels, the value as the sample.
func TestMapPolicyExportsSeries(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host, ns, ip, peer := testkernel.VethPair(t)
	x := xdpFilter(s, "filter-export", host)
	apply(t, s, x)
	mp := blocklist("exported-drops", x.Name, entry(fmt.Sprintf(`{"addr": %q}`, peer), `{}`))
	mp.Spec.Export = &bpfleetv1.MapExport{Type: bpfleetv1.MetricCounter}
	if err := s.Client.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), mp) })
	waitPolicy(t, s.Client, mp, "MapPolicy Ready", policyReady)
	testkernel.Ping(t, ns, ip, 3)

	var seen string
	poll(t, "bpfleet_map_exported_drops{addr="+peer+"} >= 3", func(context.Context) bool {
		families, err := ctrlmetrics.Registry.Gather()
		if err != nil {
			seen = err.Error()
			return false
		}
		for _, f := range families {
			if f.GetName() != "bpfleet_map_exported_drops" {
				continue
			}
			for _, m := range f.GetMetric() {
				seen = m.String()
				if hasLabel(m.GetLabel(), "addr", peer) && m.GetCounter().GetValue() >= 3 {
					return true
				}
			}
		}
		return false
	}, func() string { return seen })
}

func hasLabel(labels []*dto.LabelPair, name, value string) bool {
	for _, l := range labels {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
