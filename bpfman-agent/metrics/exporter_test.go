package metrics

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func blocklistExport(tb testing.TB, m *ebpf.Map, policy string, maxSeries int) Export {
	spec := blocklistSpec(tb)
	return Export{Policy: policy, MapName: "blocklist", Type: "counter", MaxSeries: maxSeries,
		Open: opener(tb, m), Key: spec.Key, Value: spec.Value}
}

// TestExportReadsLiveValues: each key is a series labelled from its BTF,
// with the value the map holds at scrape time; a deleted key's series is
// gone at the next scrape.
func TestExportReadsLiveValues(t *testing.T) {
	testkernel.Require(t)
	m := newMap(t, blocklistSpec(t))
	put(t, m, ipKey(t, "10.0.0.1"), u64Bytes(3))
	put(t, m, ipKey(t, "10.0.0.2"), u64Bytes(5))
	e := NewExporter()
	e.Set([]Export{blocklistExport(t, m, "block-list.v1", 0)})
	reg := registry(t, e)

	name := "bpfleet_map_block_list_v1"
	wantSeries(t, series(t, reg, name), map[string]float64{
		"addr=10.0.0.1,field=drops": 3,
		"addr=10.0.0.2,field=drops": 5,
	})
	put(t, m, ipKey(t, "10.0.0.1"), u64Bytes(7))
	if err := m.Delete(ipKey(t, "10.0.0.2")); err != nil {
		t.Fatal(err)
	}
	wantSeries(t, series(t, reg, name), map[string]float64{"addr=10.0.0.1,field=drops": 7})
	wantSeries(t, series(t, reg, "bpfleet_agent_map_export_truncated"), map[string]float64{"policy=block-list.v1": 0})

	e.Set(nil)
	wantSeries(t, series(t, reg, name), nil)
	wantSeries(t, series(t, reg, "bpfleet_agent_map_export_truncated"), nil)
}

// TestExportCapsSeries: past MaxSeries, series stop and truncated is 1.
func TestExportCapsSeries(t *testing.T) {
	testkernel.Require(t)
	m := newMap(t, blocklistSpec(t))
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		put(t, m, ipKey(t, ip), u64Bytes(1))
	}
	e := NewExporter()
	e.Set([]Export{blocklistExport(t, m, "capped", 1)})
	reg := registry(t, e)

	if got := series(t, reg, "bpfleet_map_capped"); len(got) != 1 {
		t.Fatalf("series %v, want 1", got)
	}
	wantSeries(t, series(t, reg, "bpfleet_agent_map_export_truncated"), map[string]float64{"policy=capped": 1})

	e.Set([]Export{blocklistExport(t, m, "capped", 3)})
	if got := series(t, reg, "bpfleet_map_capped"); len(got) != 3 {
		t.Fatalf("series %v, want 3", got)
	}
	wantSeries(t, series(t, reg, "bpfleet_agent_map_export_truncated"), map[string]float64{"policy=capped": 0})
}

// TestExportSkipsFailingMap: a map that does not open is counted and
// skipped; the other exports are still served.
func TestExportSkipsFailingMap(t *testing.T) {
	testkernel.Require(t)
	m := newMap(t, blocklistSpec(t))
	put(t, m, ipKey(t, "192.168.1.9"), u64Bytes(2))
	broken := blocklistExport(t, m, "broken", 0)
	broken.Open = failing
	e := NewExporter()
	e.Set([]Export{broken, blocklistExport(t, m, "good", 0)})
	reg := registry(t, e)

	wantSeries(t, series(t, reg, "bpfleet_map_good"), map[string]float64{"addr=192.168.1.9,field=drops": 2})
	// Two scrapes so far, each skipped broken.
	wantSeries(t, series(t, reg, "bpfleet_agent_map_export_errors_total"), map[string]float64{"policy=broken": 2})
	wantSeries(t, series(t, reg, "bpfleet_map_broken"), nil)
}

// TestExportPrograms: a policy over several programs' maps labels each
// series with its program and caps them together.
func TestExportPrograms(t *testing.T) {
	testkernel.Require(t)
	a, b := newMap(t, blocklistSpec(t)), newMap(t, blocklistSpec(t))
	put(t, a, ipKey(t, "10.0.0.1"), u64Bytes(1))
	put(t, b, ipKey(t, "10.0.0.1"), u64Bytes(2))
	xa, xb := blocklistExport(t, a, "p", 0), blocklistExport(t, b, "p", 0)
	xa.Program, xb.Program = "uid-a", "uid-b"
	e := NewExporter()
	e.Set([]Export{xa, xb})
	reg := registry(t, e)

	wantSeries(t, series(t, reg, "bpfleet_map_p"), map[string]float64{
		"addr=10.0.0.1,field=drops,program=uid-a": 1,
		"addr=10.0.0.1,field=drops,program=uid-b": 2,
	})
	xa.MaxSeries, xb.MaxSeries = 1, 1
	e.Set([]Export{xa, xb})
	if got := series(t, reg, "bpfleet_map_p"); len(got) != 1 {
		t.Fatalf("series %v, want 1 (cap over the policy)", got)
	}
	wantSeries(t, series(t, reg, "bpfleet_agent_map_export_truncated"), map[string]float64{"policy=p": 1})
}

// TestExportPerCPU sums a per-CPU value over CPUs; a plain integer key
// is label "key" and an integer value has no "field".
func TestExportPerCPU(t *testing.T) {
	testkernel.Require(t)
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	u32 := &btf.Int{Name: "__u32", Size: 4}
	s64 := &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	m := newMap(t, &ebpf.MapSpec{Type: ebpf.PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	perCPU := make([]int64, ncpu)
	for i := range perCPU {
		perCPU[i] = int64(i + 1)
	}
	perCPU[0] = -1
	if err := m.Put(uint32(42), perCPU); err != nil {
		t.Fatal(err)
	}
	e := NewExporter()
	e.Set([]Export{{Policy: "pcpu", MapName: "m", Type: "gauge", Open: opener(t, m), Key: u32, Value: s64}})
	want := float64(ncpu*(ncpu+1)/2 - 2)
	wantSeries(t, series(t, registry(t, e), "bpfleet_map_pcpu"), map[string]float64{"key=42": want})
}

// TestExportRefusesClash: two policies whose names map to one metric name
// with other labels: the second is skipped, the scrape still succeeds.
func TestExportRefusesClash(t *testing.T) {
	testkernel.Require(t)
	m := newMap(t, blocklistSpec(t))
	put(t, m, ipKey(t, "10.0.0.1"), u64Bytes(1))
	other := Export{Policy: "a.b", MapName: "other", Type: "gauge", Open: opener(t, m)}
	e := NewExporter()
	e.Set([]Export{blocklistExport(t, m, "a-b", 0), other})
	reg := registry(t, e)
	wantSeries(t, series(t, reg, "bpfleet_map_a_b"), map[string]float64{"addr=10.0.0.1,field=drops": 1})
	// Two scrapes so far, each skipped a.b.
	wantSeries(t, series(t, reg, "bpfleet_agent_map_export_errors_total"), map[string]float64{"policy=a.b": 2})
}
