package loader_test

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// xdpPass is XDP_PASS, what the test programs return.
const xdpPass = 2

// TestGlobalsPerSection sets a global in each data section libbpf knows
// (.rodata, .data, .bss) through globalData; the program reads them all.
func TestGlobalsPerSection(t *testing.T) {
	testkernel.Require(t)
	objs := load(t, bpf.LibbpfGlobals, "read_globals", map[string]string{"ro_value": "11", "data_value": "22", "bss_value": "33"})
	defer objs.Close()
	got := runAndRead(t, objs, "seen", 3)
	for i, want := range []uint64{11, 22, 33} {
		if got[i] != want {
			t.Errorf("global %d (%s) = %d, want %d", i, []string{".rodata", ".data", ".bss"}[i], got[i], want)
		}
	}
}

// TestUnusedSectionsLoad loads a program from an object that carries
// sections the loader does not use (libxdp's .xdp_run_config,
// xdp_metadata, version, a "Dual MIT/GPL" license) and programs in many
// other sections: the program loads and runs.
func TestUnusedSectionsLoad(t *testing.T) {
	testkernel.Require(t)
	objs := load(t, bpf.LibbpfSections, "xdp_frags", nil)
	defer objs.Close()
	if got := runAndRead(t, objs, "runs", 1); got[0] != 1 {
		t.Errorf("runs = %d after one run, want 1", got[0])
	}
	if len(objs.Maps) != 1 {
		t.Errorf("maps %v, want only runs", objs.Maps)
	}
}

// runAndRead runs objs.Program once on an empty packet and reads the
// first n u64 entries of its map name.
func runAndRead(t *testing.T, objs *loader.Objects, name string, n int) []uint64 {
	t.Helper()
	ret, err := objs.Program.Run(&ebpf.RunOptions{Data: make([]byte, 64)})
	if err != nil || ret != xdpPass {
		t.Fatalf("test run: %d, %v; want XDP_PASS", ret, err)
	}
	out := make([]uint64, n)
	for i := range out {
		if err := objs.Maps[name].Lookup(uint32(i), &out[i]); err != nil {
			t.Fatalf("%s[%d]: %v", name, i, err)
		}
	}
	return out
}
