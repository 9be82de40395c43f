package controllers_test

import (
	"context"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// policyFor is a MapPolicy of map in the TracepointProgram p, with one
// entry, changed by change.
func policyFor(name, mapName string, p *bpfleetv1.TracepointProgram, change ...func(*bpfleetv1.MapPolicy)) *bpfleetv1.MapPolicy {
	mp := &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "TracepointProgram", Name: p.Name}}},
			MapName:  mapName,
			Entries:  []bpfleetv1.MapEntry{{Key: apiextensionsv1.JSON{Raw: []byte(`1`)}, Value: apiextensionsv1.JSON{Raw: []byte(`2`)}}},
		},
	}
	for _, c := range change {
		c(mp)
	}
	return mp
}

func maxEntries(n int32) func(*bpfleetv1.MapPolicy) {
	return func(mp *bpfleetv1.MapPolicy) { mp.Spec.MaxEntries = &n }
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// waitPolicyStalled waits until mp is Stalled for reason at its current
// generation, and returns the condition.
func waitPolicyStalled(t *testing.T, mp *bpfleetv1.MapPolicy, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	eventually(t, mp.Name+" Stalled/"+reason, func() (bool, error) {
		if err := k8s.Get(context.Background(), types.NamespacedName{Name: mp.Name}, mp); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(mp.Status.Conditions, bpfleetv1.ConditionStalled)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason || mp.Status.ObservedGeneration != mp.Generation {
			return false, nil
		}
		got = *c
		return true, nil
	})
	return got
}

// nodePolicy is node's entry for mp in its set (ok false if none).
func nodePolicy(s *bpfleetv1.NodeProgramSet, uid types.UID) (bpfleetv1.NodeMapPolicy, bool) {
	for _, nmp := range s.Spec.MapPolicies {
		if nmp.UID == uid {
			return nmp, true
		}
	}
	return bpfleetv1.NodeMapPolicy{}, false
}

// setAfter waits until a policy created now, for a map p's image has,
// reaches node's set, and returns the set: the node pass that wrote it
// saw every policy created before.
func setAfter(t *testing.T, node string, p *bpfleetv1.TracepointProgram, name, mapName string) *bpfleetv1.NodeProgramSet {
	t.Helper()
	control := policyFor(name, mapName, p)
	create(t, control)
	var s *bpfleetv1.NodeProgramSet
	eventually(t, name+" on "+node, func() (bool, error) {
		var err error
		s, err = getSet(node)
		if err != nil {
			return false, err
		}
		_, ok := nodePolicy(s, control.UID)
		return ok, nil
	})
	return s
}

// programMaps is the map configurations node's set gives program uid.
func programMaps(t *testing.T, s *bpfleetv1.NodeProgramSet, uid types.UID) []bpfleetv1.MapConfig {
	t.Helper()
	for _, np := range s.Spec.Programs {
		if np.UID == uid {
			return np.Maps
		}
	}
	t.Fatalf("set %s has no entry for program %s", s.Name, uid)
	return nil
}

// A MapPolicy the operator refuses (its map is not in the image) reaches
// no node: neither its entries nor its size; the program runs on without
// it, and the policy says why, with the maps the image has.
func TestRefusedMapPolicyReachesNoNode(t *testing.T) {
	ref := ocitest.Serve(t, nil) + "/bpfleet/counter:v1"
	pushCounterELF(t, ref)
	p, _ := imageScheduledOn(t, "refused-prog", ref, "refused-1")
	mp := policyFor("refused-flows", "flows", p, maxEntries(64))
	create(t, mp)
	c := waitPolicyStalled(t, mp, bpfleetv1.ReasonImageMismatch)
	if !strings.Contains(c.Message, `no map "flows"; it has maps counts (hash), total (array)`) {
		t.Errorf("Stalled message %q does not list the maps the image has", c.Message)
	}
	s := setAfter(t, "refused-1", p, "refused-control", "counts")
	if nmp, ok := nodePolicy(s, mp.UID); ok {
		t.Errorf("the refused policy reached the node: %+v; its status: %+v", nmp, mp.Status)
	}
	if maps := programMaps(t, s, p.UID); len(maps) != 0 {
		t.Errorf("the program's entry carries the refused policy's size: %+v", maps)
	}
}

// A policy the nodes apply, edited into one the operator refuses, stays
// on the nodes as it was last accepted (its entries and its map's size),
// never taken off: what a node enforces is dropped only by a spec the
// operator accepted. The policy says why it is Stalled.
func TestRefusedEditKeepsTheAcceptedPolicy(t *testing.T) {
	ctx := context.Background()
	ref := ocitest.Serve(t, nil) + "/bpfleet/counter:v1"
	pushCounterELF(t, ref)
	p, _ := imageScheduledOn(t, "edited-prog", ref, "edited-1")
	mp := policyFor("edited-counts", "counts", p, maxEntries(2048))
	create(t, mp)
	eventually(t, "the accepted policy on edited-1", func() (bool, error) {
		s, err := getSet("edited-1")
		if err != nil {
			return false, err
		}
		nmp, ok := nodePolicy(s, mp.UID)
		return ok && nmp.MapName == "counts", nil
	})
	if err := k8s.Get(ctx, types.NamespacedName{Name: mp.Name}, mp); err != nil {
		t.Fatal(err)
	}
	accepted := mp.Generation
	base := mp.DeepCopy()
	mp.Spec.MapName = "flows"
	if err := k8s.Patch(ctx, mp, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitPolicyStalled(t, mp, bpfleetv1.ReasonImageMismatch)
	s := setAfter(t, "edited-1", p, "edited-control", "total")
	nmp, ok := nodePolicy(s, mp.UID)
	if !ok || nmp.Generation != accepted || nmp.MapName != "counts" {
		t.Errorf("node entry of the policy edited into a refused one: %+v (present %v); want generation %d of map counts, as accepted", nmp, ok, accepted)
	}
	if maps := programMaps(t, s, p.UID); len(maps) != 1 || maps[0].Name != "counts" || maps[0].MaxEntries != 2048 {
		t.Errorf("program's map configurations %+v, want counts sized 2048 as accepted", maps)
	}
}

// Entries for a map no MapPolicy can write (the flow meter's ring buffer,
// as its image's labels say) are refused before any node sees them: the
// message names the map, its type and what a policy writes. A policy
// that only sizes the ring buffer is accepted.
func TestMapPolicyEntriesForARingBufferRefused(t *testing.T) {
	ref := ocitest.Serve(t, nil) + "/bpfleet/flowmeter:v1"
	b, err := oci.BytecodeFromELF("flowmeter.o", "", bpf.Flowmeter)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Push(context.Background(), ref, b, nil); err != nil {
		t.Fatal(err)
	}
	p, _ := imageScheduledOn(t, "ring-prog", ref, "ring-1", func(p *bpfleetv1.TracepointProgram) {
		p.Spec.ProgramName = "count_drops"
		p.Spec.Tracepoint.Name = "skb/kfree_skb"
	})
	mp := policyFor("ring-entries", "new_flows", p)
	sizing := policyFor("ring-size", "new_flows", p, maxEntries(1<<20), func(mp *bpfleetv1.MapPolicy) { mp.Spec.Entries = nil })
	create(t, mp, sizing)
	c := waitPolicyStalled(t, mp, bpfleetv1.ReasonMapNotWritable)
	for _, want := range []string{`TracepointProgram ring-prog: image `, `map "new_flows" is of type ringbuf`, "hash, LRU hash, array"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Stalled message %q does not say %q", c.Message, want)
		}
	}
	s := setAfter(t, "ring-1", p, "ring-control", "drops")
	if nmp, ok := nodePolicy(s, mp.UID); ok {
		t.Errorf("the refused policy reached the node: %+v; its status: %+v", nmp, mp.Status)
	}
	if _, ok := nodePolicy(s, sizing.UID); !ok {
		t.Errorf("the policy sizing the ring buffer did not reach the node")
	}
}
