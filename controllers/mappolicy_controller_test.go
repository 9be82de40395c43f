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
			len(nmp.Programs) == 1 && nmp.Programs[0] == p.UID && len(nmp.Entries) == 1, nil
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
	s, err := getSet(node)
	if err != nil {
		t.Fatal(err)
	}
	base := s.DeepCopy()
	st.UID, st.Name, st.Generation = mp.UID, mp.Name, mp.Generation
	s.Status.MapPolicies = []bpfleetv1.NodeMapPolicyStatus{st}
	if err := k8s.Status().Patch(context.Background(), s, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}
