package bpf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// v4Flow is the key of an IPv4 flow.
func v4Flow(src, dst string, sport, dport uint16, proto uint8, ifindex uint32, dir uint8) flowKey {
	k := flowKey{Sport: sport, Dport: dport, Ifindex: ifindex, Family: 4, Proto: proto, Direction: dir}
	copy(k.Saddr[:], net.ParseIP(src).To4())
	copy(k.Daddr[:], net.ParseIP(dst).To4())
	return k
}

// describe prints a flow key as a reader checks it.
func describe(k flowKey) string {
	n := 4
	if k.Family == 6 {
		n = 16
	}
	dir := "ingress"
	if k.Direction == 1 {
		dir = "egress"
	}
	return fmt.Sprintf("%s %s:%d -> %s:%d proto %d on ifindex %d", dir,
		net.IP(k.Saddr[:n]), k.Sport, net.IP(k.Daddr[:n]), k.Dport, k.Proto, k.Ifindex)
}

// flowOf reads the counters of flow k; an absent flow reads as zero.
func flowOf(t *testing.T, fm *testkernel.Flowmeter, k flowKey) flowStats {
	t.Helper()
	var s flowStats
	if err := fm.Maps["flows"].Lookup(k, &s); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Fatalf("lookup flow %s: %v", describe(k), err)
	}
	return s
}

// mapValue reads the u64 at index key of an array map.
func mapValue(t *testing.T, m *ebpf.Map, key uint32) uint64 {
	t.Helper()
	var v uint64
	if err := m.Lookup(key, &v); err != nil {
		t.Fatalf("lookup %d: %v", key, err)
	}
	return v
}

// mapID is the kernel's ID of m.
func mapID(t *testing.T, m *ebpf.Map) ebpf.MapID {
	t.Helper()
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return id
}

func interfaceIndex(t *testing.T, name string) uint32 {
	t.Helper()
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(ifi.Index)
}

// decode reads a record written by the kernel in the host's byte order.
func decode(raw []byte, out any) error {
	if binary.Size(out) != len(raw) {
		return fmt.Errorf("want %d bytes", binary.Size(out))
	}
	return binary.Read(bytes.NewReader(raw), binary.NativeEndian, out)
}
