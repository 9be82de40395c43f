package image_test

import (
	"context"
	"maps"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// TestFetchLibbpfObject packages an object written for libbpf as
// `bpfleet image build` does (labels from the object) and fetches it as
// the agent does: the labels match the object, section names such as
// xdp.frags, uprobe.multi or ?tc included.
func TestFetchLibbpfObject(t *testing.T) {
	host, _ := startRegistry(t, nil)
	b, err := oci.BytecodeFromELF("libbpf_sections.o", "", bpf.LibbpfSections)
	if err != nil {
		t.Fatal(err)
	}
	store, _ := newStore(t)
	obj, err := store.Fetch(context.Background(), push(t, host+"/bpf/libbpf:v1", b, nil), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(obj.Programs, b.Programs) {
		t.Errorf("programs %v, want %v", obj.Programs, b.Programs)
	}
	for name, typ := range map[string]string{"xdp_frags": "xdp", "uprobe_multi": "uprobe", "tc_optional": "tc", "tcx_egress": "tcx"} {
		if obj.Programs[name] != typ {
			t.Errorf("%s: %q, want %q", name, obj.Programs[name], typ)
		}
	}
}
