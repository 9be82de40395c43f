package metrics

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/cilium/ebpf/btf"
)

var (
	u8  = &btf.Int{Name: "__u8", Size: 1}
	u16 = &btf.Int{Name: "__u16", Size: 2}
	u32 = &btf.Int{Name: "__u32", Size: 4}
	s32 = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
)

func TestKeyLabels(t *testing.T) {
	flow := &btf.Struct{Name: "flow", Size: 12, Members: []btf.Member{
		{Name: "saddr", Type: u32, Offset: 0},
		{Name: "dst_ip", Type: &btf.Array{Type: u8, Index: u32, Nelems: 4}, Offset: 32},
		{Name: "port", Type: u16, Offset: 64},
		{Name: "field", Type: u8, Offset: 80},
		{Name: "__pad", Type: u8, Offset: 88},
	}}
	key := []byte{10, 0, 0, 1, 192, 168, 0, 7, 0, 0, 3, 9}
	binary.NativeEndian.PutUint16(key[8:], 443)
	l := newKeyLayout(flow, len(key))
	if got, want := l.names(), []string{"saddr", "dst_ip", "port", "key_field", "key_pad"}; !slices.Equal(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	if got, want := l.values(key), []string{"10.0.0.1", "192.168.0.7", "443", "3", "9"}; !slices.Equal(got, want) {
		t.Fatalf("values %v, want %v", got, want)
	}
}

func TestKeyWithoutUsableBTF(t *testing.T) {
	for name, typ := range map[string]btf.Type{"none": nil, "size mismatch": u16} {
		l := newKeyLayout(typ, 4)
		if got := l.values([]byte{1, 0, 0, 0}); len(got) != 1 || l[0].name != "key" || got[0] != "1" {
			t.Errorf("%s: labels %v=%v, want key=1", name, l.names(), got)
		}
	}
	signed := newKeyLayout(s32, 4).values([]byte{0xff, 0xff, 0xff, 0xff})
	if signed[0] != "-1" {
		t.Errorf("signed key %v, want -1", signed)
	}
}

func TestValueLayout(t *testing.T) {
	stats := &btf.Struct{Name: "stats", Size: 16, Members: []btf.Member{
		{Name: "packets", Type: u32, Offset: 0},
		{Name: "delta", Type: s32, Offset: 32},
		{Name: "name", Type: &btf.Array{Type: u8, Index: u32, Nelems: 8}, Offset: 64},
	}}
	l, err := newValueLayout(stats, 16)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]byte, 16)
	binary.NativeEndian.PutUint32(v, 9)
	binary.NativeEndian.PutUint32(v[4:], 0xfffffffe)
	if len(l.fields) != 2 || !l.named || l.fields[0].read(v) != 9 || l.fields[1].read(v) != -2 {
		t.Fatalf("fields %+v", l.fields)
	}
	for name, typ := range map[string]btf.Type{
		"array":       &btf.Array{Type: u8, Index: u32, Nelems: 16},
		"no integers": &btf.Struct{Name: "s", Size: 16, Members: []btf.Member{{Name: "a", Type: &btf.Array{Type: u8, Index: u32, Nelems: 16}}}},
		"size":        u32,
	} {
		if _, err := newValueLayout(typ, 16); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := newValueLayout(nil, 3); err == nil {
		t.Error("3 bytes without BTF: no error")
	}
}

func TestIsAddress(t *testing.T) {
	for name, want := range map[string]bool{
		"addr": true, "saddr": true, "src_ip": true, "ip": true, "ipv4": true, "dstip": true,
		"port": false, "skip": false, "ip_count": true, "zipper": false, "drops": false,
	} {
		if got := isAddress(name); got != want {
			t.Errorf("isAddress(%q) = %v", name, got)
		}
	}
}
