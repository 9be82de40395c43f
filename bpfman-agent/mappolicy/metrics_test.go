package mappolicy

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
)

// TestExports: an exported policy gives one export per running program,
// labelled by program when there are several, or one for a shared map;
// unexported policies and programs not running give none.
func TestExports(t *testing.T) {
	objects := map[types.UID][]byte{"a": bpf.XDPFilter, "b": bpf.XDPFilter}
	export := &bpfleetv1.MapExport{Type: bpfleetv1.MetricCounter, MaxSeries: 10}
	policies := []bpfleetv1.NodeMapPolicy{
		{Name: "both", MapName: "blocklist", Programs: []types.UID{"a", "b", "c"}, Export: export},
		{Name: "one", MapName: "blocklist", Programs: []types.UID{"a", "c"}, Export: export},
		{Name: "shared", MapName: "blocklist", Programs: []types.UID{"a", "b"}, Shared: "shared", Export: export},
		{Name: "quiet", MapName: "blocklist", Programs: []types.UID{"a"}},
		{Name: "waiting", MapName: "blocklist", Programs: []types.UID{"c"}, Export: export},
	}
	var w Writer
	got := w.exports(policies, objects)
	want := []struct{ policy, program string }{{"both", "a"}, {"both", "b"}, {"one", ""}, {"shared", ""}}
	if len(got) != len(want) {
		t.Fatalf("%d exports, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		x := got[i]
		if x.Policy != w.policy || x.Program != w.program || x.Type != "counter" || x.MaxSeries != 10 || x.Key == nil || x.Value == nil || x.Open == nil {
			t.Errorf("export %d: %+v, want policy %s program %q with BTF", i, x, w.policy, w.program)
		}
	}
}
