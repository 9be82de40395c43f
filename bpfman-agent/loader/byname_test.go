package loader_test

import (
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestByNameIncompatible: a map pinned by name that differs from the
// object's definition (here a larger max_entries) is refused with
// MapIncompatible, saying both shapes, rather than the object losing it.
func TestByNameIncompatible(t *testing.T) {
	testkernel.Require(t)
	dir := testkernel.TempBPFFS(t)
	l := newLoader(t)
	spec, err := loader.Spec(bpf.LibbpfPinned, "count_pinned", nil)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := l.LoadSpecWith(spec, "count_pinned", nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	objs.Close()

	spec.Maps["pinned_calls"].MaxEntries = 2048
	_, err = l.LoadSpecWith(spec, "count_pinned", nil, dir)
	if loader.Reason(err) != loader.ReasonMapIncompatible || !loader.Terminal(err) {
		t.Fatalf("err = %v, want terminal MapIncompatible", err)
	}
	for _, want := range []string{`map "pinned_calls" is pinned by name`, "max_entries 1024", "max_entries 2048"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if _, err := l.Load(bpf.LibbpfPinned, "count_pinned", nil); loader.Reason(err) != loader.ReasonInvalidObject {
		t.Errorf("load without a directory to pin by name: %v, want InvalidObject", err)
	}
}
