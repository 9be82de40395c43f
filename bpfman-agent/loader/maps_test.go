package loader

import (
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
)

func TestSetMaxEntries(t *testing.T) {
	spec, err := Spec(bpf.TracepointCounter, "count_openat", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := SetMaxEntries(spec, []string{"count_openat"}, map[string]uint32{"counts": 64, "total": 0}); err != nil {
		t.Fatal(err)
	}
	if spec.Maps["counts"].MaxEntries != 64 || spec.Maps["total"].MaxEntries != 1 {
		t.Fatalf("max_entries counts %d total %d, want 64 and 1", spec.Maps["counts"].MaxEntries, spec.Maps["total"].MaxEntries)
	}
	for _, name := range []string{"nope", ".rodata"} {
		err := SetMaxEntries(spec, []string{"count_openat"}, map[string]uint32{name: 8})
		if Reason(err) != ReasonMapIncompatible || !Terminal(err) {
			t.Errorf("SetMaxEntries(%s) = %v, want terminal MapIncompatible", name, err)
		}
	}
}
