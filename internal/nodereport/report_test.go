package nodereport

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// The agent writes its report when it is missing, belongs to an earlier
// set of its node, or says something else; not otherwise.
func TestStaleReport(t *testing.T) {
	set := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "n", UID: "set-now"}}
	controller := true
	written := func(setUID string, gen int64) *bpfleetv1.NodeProgramReport {
		r := &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: "n", UID: "report"}}
		r.OwnerReferences = []metav1.OwnerReference{{Kind: "NodeProgramSet", Name: "n", UID: types.UID("set-" + setUID), Controller: &controller}}
		r.Status.SetGeneration = gen
		return r
	}
	now := written("now", 2)
	for _, tc := range []struct {
		name string
		base *bpfleetv1.NodeProgramReport
		want bool
	}{
		{"the same report", written("now", 2), false},
		{"none written yet", &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, true},
		{"another generation", written("now", 1), true},
		{"an earlier set's", written("before", 2), true},
	} {
		if got := Stale(tc.base, now, set); got != tc.want {
			t.Errorf("%s: stale = %v, want %v", tc.name, got, tc.want)
		}
	}
}
