package maps

import (
	"encoding/json"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

func blocklistSpec(tb testing.TB) *ebpf.MapSpec {
	return testkernel.MapSpecOf(tb, bpf.XDPFilter, "blocklist")
}

func newMap(tb testing.TB, spec *ebpf.MapSpec) *ebpf.Map { return testkernel.NewMap(tb, spec) }

// arraySpec is an array of struct verdict, keyed by __u32, of n entries.
func arraySpec(tb testing.TB, n uint32) *ebpf.MapSpec {
	tb.Helper()
	return &ebpf.MapSpec{Name: "verdicts", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: n,
		Key: u32, Value: blocklistSpec(tb).Value}
}

var (
	u8   = &btf.Int{Name: "unsigned char", Size: 1}
	char = &btf.Int{Name: "char", Size: 1, Encoding: btf.Signed}
	u16  = &btf.Int{Name: "__u16", Size: 2}
	s16  = &btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}
	u32  = &btf.Int{Name: "__u32", Size: 4}
	s32  = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u64  = &btf.Int{Name: "__u64", Size: 8}
	s64  = &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	boo  = &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	// struct rule { __u32 addr; __u16 port; /* 2 bytes padding */ __u64 hits; }
	rule = &btf.Struct{Name: "rule", Size: 16, Members: []btf.Member{
		{Name: "addr", Type: u32, Offset: 0},
		{Name: "port", Type: u16, Offset: 32},
		{Name: "hits", Type: &btf.Typedef{Name: "counter_t", Type: u64}, Offset: 64},
	}}
	comm  = &btf.Array{Index: u32, Type: char, Nelems: 8}
	ip6   = &btf.Array{Index: u32, Type: u8, Nelems: 16}
	pair  = &btf.Array{Index: u32, Type: s16, Nelems: 2}
	color = &btf.Enum{Name: "color", Size: 4, Values: []btf.EnumValue{{Name: "RED", Value: 0}, {Name: "BLUE", Value: 2}}}
	outer = &btf.Struct{Name: "outer", Size: 24, Members: []btf.Member{
		{Name: "rule", Type: rule, Offset: 0},
		{Name: "name", Type: comm, Offset: 128},
	}}
)

// testWriter is newWriter(m), failing tb on an error.
func testWriter(tb testing.TB, m *ebpf.Map) *writer {
	tb.Helper()
	w, err := newWriter(m)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func entry(key, value string) Entry {
	return Entry{Key: json.RawMessage(key), Value: json.RawMessage(value)}
}
