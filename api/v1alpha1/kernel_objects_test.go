package v1alpha1_test

import (
	"encoding/json"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A report's kernel objects are one readable string, and read back as
// they were written, whatever their targets and details hold.
func TestKernelObjectsRoundTrip(t *testing.T) {
	k := bpfleetv1.KernelObjects{
		Links: []bpfleetv1.LinkStatus{
			{Target: "eth0", LinkID: 12, Detail: "mode=generic"},
			{Target: "main", LinkID: 1002, Detail: "cgroup /sys/fs/cgroup/a b; egress"},
			{Target: "x\"y", LinkID: 3},
		},
		MapIDs: map[string]uint32{"counts": 1001, ".rodata": 7},
	}
	raw, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	want := `"link eth0 12 mode=generic; link main 1002 \"cgroup /sys/fs/cgroup/a b; egress\"; link \"x\\\"y\" 3; map .rodata 7; map counts 1001"`
	if string(raw) != want {
		t.Errorf("JSON %s, want %s", raw, want)
	}
	var back bpfleetv1.KernelObjects
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(back, k) {
		t.Errorf("read back %+v, want %+v", back, k)
	}
}

// What an agent wrote that does not parse is left out, never an error:
// one report that fails to decode fails an informer's whole list.
func TestKernelObjectsLenient(t *testing.T) {
	var k bpfleetv1.KernelObjects
	if err := json.Unmarshal([]byte(`"link main notanumber; map counts 5; garbage; \"unterminated"`), &k); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(k.Links) != 0 || k.MapIDs["counts"] != 5 || len(k.MapIDs) != 1 {
		t.Errorf("got %+v, want only map counts 5", k)
	}
}
