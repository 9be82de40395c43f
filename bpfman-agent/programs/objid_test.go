package programs_test

import (
	"runtime"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// Describing what is pinned reads each object's ID with two bpf() calls,
// not through ebpf.LoadPinnedMap and Info, which also read its /proc
// fdinfo, twice: with a thousand programs a pass made tens of megabytes of
// garbage, which the idle agent kept resident. The IDs are the kernel's.
func TestInstalledReadsIDsCheaply(t *testing.T) {
	m, _ := setup(t)
	ld := apply(t, m, counter("uid-ids", "r1"))
	if len(ld.Maps) == 0 {
		t.Fatal("the counter pins no map: nothing to check")
	}
	installed, err := m.Installed()
	if err != nil || len(installed) != 1 {
		t.Fatalf("Installed = %+v, %v", installed, err)
	}
	for name, id := range installed[0].Maps {
		mp, err := ebpf.LoadPinnedMap(pins.Dir(installed[0].PinDir).Map(name), &ebpf.LoadPinOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		info, err := mp.Info()
		mp.Close()
		if want, _ := info.ID(); err != nil || uint32(want) != id || id != ld.Maps[name] {
			t.Errorf("map %s: ID %d, the kernel says %d (%v), the load said %d", name, id, want, err, ld.Maps[name])
		}
	}
	if sole(installed[0]).ID != sole(ld).ID {
		t.Errorf("program ID %d, the load said %d", sole(installed[0]).ID, sole(ld).ID)
	}
	perMap := allocated(func() { _, _ = m.Installed() }) / uint64(len(ld.Maps))
	t.Logf("Installed allocates %d bytes per pinned map", perMap)
	if perMap > 4096 {
		t.Errorf("describing the pins allocates %d bytes per pinned map; want under 4 KiB (no /proc fdinfo read)", perMap)
	}
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
