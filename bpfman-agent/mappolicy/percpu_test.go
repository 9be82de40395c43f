package mappolicy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// perCPUUID is the program running bpf.PerCPUCounter in these tests.
const perCPUUID = "percpu"

// runPerCPUCounter runs bpf.PerCPUCounter, counting this process's
// getppid calls (see runProgram).
func runPerCPUCounter(t *testing.T) (*programs.Manager, map[types.UID][]byte) {
	return runProgram(t, programs.Program{
		UID: perCPUUID, Revision: programs.ParseRevision("1"), Object: bpf.PerCPUCounter,
		GlobalData: map[string]string{"filter_pid": strconv.Itoa(os.Getpid())},
		Programs: []programs.Attachment{{Name: "count_getppid",
			Attach: map[string]attach.Spec{"main": attach.Tracepoint{Group: "syscalls", Name: "sys_enter_getppid"}}}},
	})
}

// runProgram runs p as the agent runs a program: pinned by a Manager on a
// private bpffs. objects is what a pass hands the Writer.
func runProgram(t *testing.T, p programs.Program) (*programs.Manager, map[types.UID][]byte) {
	t.Helper()
	m, objects, err := startProgram(t, p)
	if err != nil {
		t.Fatal(err)
	}
	return m, objects
}

// startProgram is runProgram, returning the error of applying p.
func startProgram(t *testing.T, p programs.Program) (*programs.Manager, map[types.UID][]byte, error) {
	t.Helper()
	mnt := testkernel.TempBPFFS(t)
	m, err := programs.New(filepath.Join(mnt, "bpfleet"), programs.MountBPFFSAt(mnt))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Prune(nil) })
	_, err = m.Apply(context.Background(), p)
	return m, map[types.UID][]byte{types.UID(p.UID): p.Object}, err
}

// perCPUPolicy is a policy of the per-CPU counter's map name.
func perCPUPolicy(name string) *bpfleetv1.NodeMapPolicy {
	return &bpfleetv1.NodeMapPolicy{UID: types.UID(name), Name: name, MapName: name, Generation: 1, Programs: []types.UID{perCPUUID}}
}

// writePolicy writes entries as a pass does, into the policy's maps.
func writePolicy(t *testing.T, w *Writer, nmp *bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte, entries ...maps.Entry) bpfleetv1.NodeMapPolicyStatus {
	t.Helper()
	spec, err := w.mapSpec(nmp, objects)
	if err != nil {
		t.Fatal(err)
	}
	targets, closeAll, err := w.policyMaps(nmp, objects)
	defer closeAll()
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := w.writeEntries(nmp, bpfleetv1.NodeMapPolicyStatus{State: bpfleetv1.StateReady}, spec, targets, entries)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func kv(key, value string) maps.Entry { return maps.Entry{Key: []byte(key), Value: []byte(value)} }

// TestPerCPUPolicies writes MapPolicies into the per-CPU maps of a
// running program and exports its counts, as the agent does: the weight
// written reaches every CPU the program counts on; the exported counters
// are the sums over the CPUs (a seeded entry counts once per CPU, as
// each CPU holds it); the status counts the entries; a value of the
// wrong width is refused in the status as for any map; a merge policy
// removes the key it no longer lists, and removing the policies removes
// their keys (zeroes the array's index on every CPU).
func TestPerCPUPolicies(t *testing.T) {
	testkernel.Require(t)
	mgr, objects := runPerCPUCounter(t)
	exporter := metrics.NewExporter()
	w := &Writer{programs: mgr, exporter: exporter, written: ledger{dir: t.TempDir()}}
	t.Cleanup(func() {
		if w.counter != nil {
			w.counter.Close()
		}
	})
	weight, stats := perCPUPolicy("weight"), perCPUPolicy("stats")
	stats.Export = &bpfleetv1.MapExport{Type: bpfleetv1.MetricCounter, MaxSeries: 10}

	wantStatus(t, writePolicy(t, w, weight, objects, kv(`0`, `3`)), bpfleetv1.StateReady, 1, 1)
	wantStatus(t, writePolicy(t, w, stats, objects, kv(`1`, `{"calls": 100}`)), bpfleetv1.StateReady, 1, 1024)
	cpus := testkernel.CPUs(t)
	calls := 0
	for i, cpu := range cpus {
		testkernel.Getppid(t, cpu, 10*(i+1))
		calls += 10 * (i + 1)
	}
	policies := []bpfleetv1.NodeMapPolicy{*weight, *stats}
	w.publishMetrics(policies, []bpfleetv1.NodeMapPolicyStatus{{Name: "weight"}, {Name: "stats"}}, objects)
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(os.Getpid())
	wantExported(t, exporter, "bpfleet_map_stats", map[string]float64{
		"field=calls,key=" + pid: float64(calls), "field=weighted,key=" + pid: float64(3 * calls),
		"field=calls,key=1": float64(100 * ncpu), "field=weighted,key=1": 0,
	})
	wantStatus(t, w.usage(bpfleetv1.NodeMapPolicyStatus{State: bpfleetv1.StateReady}, openMaps(t, mgr, "stats")), bpfleetv1.StateReady, 2, 1024)

	st := writePolicy(t, w, weight, objects, kv(`0`, `"0x03"`))
	if st.State != bpfleetv1.StateFailed || st.Reason != bpfleetv1.ReasonBadEntries || !st.Terminal ||
		!strings.Contains(st.Message, "entry 0: value: want 4 bytes, got 0x03 (1 bytes)") {
		t.Errorf("a 1-byte value for a per-CPU map of __u32: %s %s terminal=%v %q; want BadEntries naming the width", st.State, st.Reason, st.Terminal, st.Message)
	}

	wantStatus(t, writePolicy(t, w, stats, objects, kv(`2`, `{}`)), bpfleetv1.StateReady, 2, 1024)
	if _, err := lookupStats(t, mgr, 1); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("key 1, no longer listed by the merge policy: %v, want it removed", err)
	}
	for _, nmp := range []*bpfleetv1.NodeMapPolicy{stats, weight} {
		nmp.Removing = true
		if st, err := w.applyPolicy(context.Background(), nmp, objects); err != nil || st.Reason != bpfleetv1.ReasonRemoved {
			t.Fatalf("remove %s: %s %s %v", nmp.Name, st.Reason, st.Message, err)
		}
	}
	if _, err := lookupStats(t, mgr, 2); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("key 2 of a removed policy: %v, want it removed", err)
	}
	wantWeight(t, mgr, 0)
}

func wantStatus(t *testing.T, st bpfleetv1.NodeMapPolicyStatus, state bpfleetv1.ProgramState, entries, max int32) {
	t.Helper()
	if st.State != state || st.Entries != entries || st.MaxEntries != max {
		t.Fatalf("status %s (%s: %s), %d of %d entries; want %s, %d of %d", st.State, st.Reason, st.Message, st.Entries, st.MaxEntries, state, entries, max)
	}
}

// openMaps opens the program's map name, closed when the test ends.
func openMaps(t *testing.T, mgr *programs.Manager, name string) []*ebpf.Map {
	t.Helper()
	m, err := mgr.Map(perCPUUID, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return []*ebpf.Map{m}
}

func lookupStats(t *testing.T, mgr *programs.Manager, key uint32) ([]struct{ Calls, Weighted uint64 }, error) {
	var got []struct{ Calls, Weighted uint64 }
	err := openMaps(t, mgr, "stats")[0].Lookup(key, &got)
	return got, err
}

// wantWeight fails unless every CPU's copy of weight[0] is want.
func wantWeight(t *testing.T, mgr *programs.Manager, want uint32) {
	t.Helper()
	var got []uint32
	if err := openMaps(t, mgr, "weight")[0].Lookup(uint32(0), &got); err != nil {
		t.Fatal(err)
	}
	for _, v := range got {
		if v != want {
			t.Fatalf("weight[0] holds %v on the CPUs, want %d on each", got, want)
		}
	}
}

// wantExported gathers e's series of name, by their labels ("k=v,k=v").
func wantExported(t *testing.T, e *metrics.Exporter, name string, want map[string]float64) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(e); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			got[strings.Join(labels, ",")] = m.GetCounter().GetValue()
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("exported %s: %v, want %v", name, got, want)
	}
}
