package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// fitPrograms keeps what the node runs, applies removals, and adds the
// oldest programs' changes while they fit.
func TestFitProgramsKeepsRunningAndRemovals(t *testing.T) {
	entry := func(uid string, gen int64, size int) bpfleetv1.NodeProgram {
		return bpfleetv1.NodeProgram{UID: types.UID(uid), Kind: "TracepointProgram", Name: uid, Generation: gen, ProgramName: strings.Repeat("p", size)}
	}
	var programs []KindedProgram
	for i, uid := range []string{"run-a", "run-b", "gone", "new-old", "new-mid", "new-young"} {
		p := &bpfleetv1.TracepointProgram{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Name: uid,
			CreationTimestamp: metav1.NewTime(time.Unix(int64(1000+i), 0))}}
		programs = append(programs, KindedProgram{Kind: "TracepointProgram", Program: p})
	}
	current := []bpfleetv1.NodeProgram{entry("gone", 1, 5000), entry("run-a", 1, 1000), entry("run-b", 1, 1000)}
	want := []bpfleetv1.NodeProgram{
		entry("new-mid", 1, 1000), entry("new-old", 1, 1000), entry("new-young", 1, 1000),
		entry("run-a", 2, 5000), // an update that grows past the room left
		entry("run-b", 1, 1000),
	}
	base := 2 * (jsonSize(entry("run-a", 1, 1000)) + 1)
	one := jsonSize(entry("new-old", 1, 1000)) + 1
	got, withheld := fitPrograms(want, current, programs, base+2*one)

	gens := map[types.UID]int64{}
	for _, np := range got {
		gens[np.UID] = np.Generation
	}
	if len(got) != 4 || gens["run-a"] != 1 || gens["run-b"] != 1 || gens["new-old"] != 1 || gens["new-mid"] != 1 {
		t.Errorf("kept %v, want run-a at generation 1, run-b, new-old and new-mid", gens)
	}
	var names []string
	for _, w := range withheld {
		names = append(names, w.Name)
	}
	if strings.Join(names, ",") != "run-a,new-young" {
		t.Errorf("withheld %v, want run-a's generation 2 and new-young", names)
	}
	if got, withheld := fitPrograms(want, current, programs, 0); len(got) != 2 || len(withheld) != 4 {
		t.Errorf("with no room: kept %d, withheld %d; want the 2 running kept, 4 changes withheld", len(got), len(withheld))
	}
}
