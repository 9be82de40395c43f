package metrics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

func blocklistSpec(tb testing.TB) *ebpf.MapSpec {
	return testkernel.MapSpecOf(tb, bpf.XDPFilter, "blocklist")
}

func newMap(tb testing.TB, spec *ebpf.MapSpec) *ebpf.Map { return testkernel.NewMap(tb, spec) }

// opener opens a new fd of m on each call, as the agent opens a pin.
func opener(tb testing.TB, m *ebpf.Map) func() (*ebpf.Map, error) {
	return func() (*ebpf.Map, error) { return m.Clone() }
}

func failing() (*ebpf.Map, error) { return nil, errors.New("no such map") }

func ipKey(tb testing.TB, addr string) []byte {
	tb.Helper()
	a := netip.MustParseAddr(addr).As4()
	return a[:]
}

func u64Bytes(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

func put(tb testing.TB, m *ebpf.Map, key, value []byte) {
	tb.Helper()
	if err := m.Put(key, value); err != nil {
		tb.Fatalf("put: %v", err)
	}
}

// registry registers e in a fresh registry.
func registry(tb testing.TB, e *Exporter) *prometheus.Registry {
	tb.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(e); err != nil {
		tb.Fatal(err)
	}
	return reg
}

// series gathers reg and returns the samples of name by their labels,
// written "k=v,k=v" in label name order.
func series(tb testing.TB, reg prometheus.Gatherer, name string) map[string]float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%s", lp.GetName(), lp.GetValue()))
			}
			slices.Sort(labels)
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out[strings.Join(labels, ",")] = v
		}
	}
	return out
}

func wantSeries(tb testing.TB, got, want map[string]float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			tb.Fatalf("series %v, want %v", got, want)
		}
	}
}
