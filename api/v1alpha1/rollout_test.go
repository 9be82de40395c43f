package v1alpha1_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A rollout status in the shape an earlier operator wrote (sentinel ranks,
// the stable node entry inline) is still taken, as None released, and what
// it held besides is dropped; a release the API does not know is refused.
func TestRolloutStatusOfAnEarlierRelease(t *testing.T) {
	ctx := context.Background()
	p := goodProgram("rollout-earlier")
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	raw := getRaw(t, "TracepointProgram", p.Name)
	earlier := map[string]any{"generation": int64(1), "canaryRank": int64(-1), "rank": int64(4294967295),
		"stable": `{"uid":"u","generation":1}`}
	if err := unstructured.SetNestedField(raw.Object, earlier, "status", "rollout"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Status().Update(ctx, raw); err != nil {
		t.Fatalf("a status of the earlier shape: %v", err)
	}
	var got bpfleetv1.TracepointProgram
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
		t.Fatal(err)
	}
	if ro := got.Status.Rollout; ro == nil || ro.Generation != 1 || ro.Released != bpfleetv1.ReleaseNone || ro.RankBound != nil || ro.StableRevision != "" {
		t.Errorf("an earlier status reads %+v, want generation 1, None released", ro)
	}
	rollout, _, _ := unstructured.NestedMap(getRaw(t, "TracepointProgram", p.Name).Object, "status", "rollout")
	for _, gone := range []string{"canaryRank", "rank", "stable"} {
		if _, ok := rollout[gone]; ok {
			t.Errorf("status.rollout.%s kept: %v", gone, rollout)
		}
	}

	got.Status.Rollout.Released = "Sideways"
	if err := k8s.Status().Update(ctx, &got); err == nil || !strings.Contains(err.Error(), "released") {
		t.Errorf("released Sideways: %v, want a refusal naming the field", err)
	}
}
