package metrics

import (
	"fmt"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestExportPerCPUProgram exports the per-CPU maps of a program that
// counts on several CPUs: each series is the sum over the CPUs of what
// the program counted there (a per-CPU hash of structs, an LRU per-CPU
// hash of __u64), and a per-CPU array of __u32, whose copies the kernel
// lays out 8 bytes apart, sums each CPU's own value.
func TestExportPerCPUProgram(t *testing.T) {
	testkernel.Require(t)
	coll := testkernel.PerCPUCounter(t)
	cpus := testkernel.CPUs(t)
	weights := make([]uint32, len(cpus))
	var calls, weighted, weightSum int
	for i := range cpus {
		weights[i] = uint32(2 + i)
		weightSum += 2 + i
		calls += 10 * (i + 1)
		weighted += 10 * (i + 1) * (2 + i)
	}
	perCPU := make([]uint32, cpus[len(cpus)-1]+1)
	for i, cpu := range cpus {
		perCPU[cpu] = weights[i]
	}
	if err := coll.Maps["weight"].Put(uint32(0), perCPU); err != nil {
		t.Fatal(err)
	}
	for i, cpu := range cpus {
		testkernel.Getppid(t, cpu, 10*(i+1))
	}

	var exports []Export
	for _, name := range []string{"stats", "seen", "weight"} {
		spec := testkernel.MapSpecOf(t, bpf.PerCPUCounter, name)
		exports = append(exports, Export{Policy: "pcpu-" + name, MapName: name, Type: "counter",
			Open: opener(t, coll.Maps[name]), Key: spec.Key, Value: spec.Value})
	}
	e := NewExporter()
	e.Set(exports)
	reg := registry(t, e)
	pid := fmt.Sprint(testkernel.PidKey())
	wantSeries(t, series(t, reg, "bpfleet_map_pcpu_stats"), map[string]float64{
		"field=calls,key=" + pid:    float64(calls),
		"field=weighted,key=" + pid: float64(weighted),
	})
	wantSeries(t, series(t, reg, "bpfleet_map_pcpu_seen"), map[string]float64{"key=" + pid: float64(calls)})
	wantSeries(t, series(t, reg, "bpfleet_map_pcpu_weight"), map[string]float64{"key=0": float64(weightSum)})
}
