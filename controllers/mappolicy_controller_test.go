package controllers_test

import (
	"context"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

func TestMapPolicyReachesNodesAndReportsUsage(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "mappolicy"}
	createNode(t, "mp-1", sel)
	p := pathProgram("mp-prog", sel)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	size := int32(1000)
	mp := &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "mp-counts"},
		Spec: bpfleetv1.MapPolicySpec{
			Programs:   bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "TracepointProgram", Name: p.Name}}},
			MapName:    "counts",
			MaxEntries: &size,
			Entries:    []bpfleetv1.MapEntry{{Key: apiextensionsv1.JSON{Raw: []byte(`1`)}, Value: apiextensionsv1.JSON{Raw: []byte(`2`)}}},
		},
	}
	if err := k8s.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "policy and map size on mp-1", func() (bool, error) {
		s, err := getSet("mp-1")
		if err != nil || len(s.Spec.Programs) != 1 || len(s.Spec.MapPolicies) != 1 {
			return false, err
		}
		np, nmp := s.Spec.Programs[0], s.Spec.MapPolicies[0]
		return len(np.Maps) == 1 && np.Maps[0].MaxEntries == 1000 && nmp.MapName == "counts" &&
			len(nmp.Programs) == 1 && nmp.Programs[0] == p.UID && nmp.Generation == mp.Generation, nil
	})

	reportPolicy(t, "mp-1", mp, bpfleetv1.NodeMapPolicyStatus{State: bpfleetv1.StateReady, Entries: 800, MaxEntries: 1000})
	eventually(t, "Ready and MapFull", func() (bool, error) {
		var got bpfleetv1.MapPolicy
		if err := k8s.Get(ctx, types.NamespacedName{Name: mp.Name}, &got); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(got.Status.Conditions, bpfleetv1.ConditionReady) &&
			meta.IsStatusConditionTrue(got.Status.Conditions, bpfleetv1.ConditionMapFull) &&
			len(got.Status.Usage) == 1 && got.Status.Usage[0].Entries == 800, nil
	})
	got := &bpfleetv1.MapPolicy{}
	_ = k8s.Get(ctx, types.NamespacedName{Name: mp.Name}, got)
	waitEventOn(t, got.UID, bpfleetv1.ReasonMapFull)
}

func reportPolicy(t *testing.T, node string, mp *bpfleetv1.MapPolicy, st bpfleetv1.NodeMapPolicyStatus) {
	t.Helper()
	st.UID, st.Name, st.Generation = mp.UID, mp.Name, mp.Generation
	writeReport(t, node, func(rs *bpfleetv1.NodeProgramReportStatus) {
		rs.MapPolicies = []bpfleetv1.NodeMapPolicyStatus{st}
	})
}

func TestMapPolicyEntriesFromArtifact(t *testing.T) {
	ctx := context.Background()
	host := ocitest.Serve(t, nil)
	pushEntries := func(tag, entries string) string {
		d, err := oci.PushEntries(ctx, host+"/lists/blocked:"+tag, []byte(entries), nil)
		if err != nil {
			t.Fatal(err)
		}
		return host + "/lists/blocked@" + d
	}
	v1 := pushEntries("v1", `[{"key": 1, "value": 1}]`)
	sel := map[string]string{"test": "entries-from"}
	createNode(t, "ef-1", sel)
	p := pathProgram("ef-prog", sel)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	mp := &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "ef-blocked"},
		Spec: bpfleetv1.MapPolicySpec{
			Programs:    bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "TracepointProgram", Name: p.Name}}},
			MapName:     "counts",
			EntriesFrom: &bpfleetv1.EntriesSource{Image: bpfleetv1.ImageSource{Ref: host + "/lists/blocked:v1"}},
		},
	}
	if err := k8s.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	waitEntriesFrom(t, "ef-1", mp, v1)

	// A tag that does not resolve is reported; the node keeps the entries
	// it has.
	setEntriesRef(t, mp, host+"/lists/blocked:v9")
	waitPolicyCondition(t, mp.Name, bpfleetv1.ConditionReady, metav1.ConditionFalse, bpfleetv1.ReasonResolveFailed)
	waitEntriesFrom(t, "ef-1", mp, v1)

	v2 := pushEntries("v2", `[{"key": 2, "value": 2}]`)
	setEntriesRef(t, mp, host+"/lists/blocked:v2")
	waitEntriesFrom(t, "ef-1", mp, v2)
}

// waitEntriesFrom waits until node's spec asks for mp's entries from the
// pinned reference want.
func waitEntriesFrom(t *testing.T, node string, mp *bpfleetv1.MapPolicy, want string) {
	t.Helper()
	eventually(t, mp.Name+" entries from "+want+" on "+node, func() (bool, error) {
		s, err := getSet(node)
		if err != nil {
			return false, err
		}
		for _, nmp := range s.Spec.MapPolicies {
			if nmp.UID == mp.UID {
				return nmp.EntriesFrom != nil && nmp.EntriesFrom.Image == want, nil
			}
		}
		return false, nil
	})
}

func setEntriesRef(t *testing.T, mp *bpfleetv1.MapPolicy, ref string) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(mp), mp); err != nil {
		t.Fatal(err)
	}
	base := mp.DeepCopy()
	mp.Spec.EntriesFrom.Image.Ref = ref
	if err := k8s.Patch(context.Background(), mp, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

// waitPolicyCondition waits until the policy's condition typ has status
// and reason at its generation.
func waitPolicyCondition(t *testing.T, name, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	eventually(t, name+" "+typ+"="+string(status)+"/"+reason, func() (bool, error) {
		var mp bpfleetv1.MapPolicy
		if err := k8s.Get(context.Background(), types.NamespacedName{Name: name}, &mp); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(mp.Status.Conditions, typ)
		return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == mp.Generation, nil
	})
}
