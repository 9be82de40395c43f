package maps

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestBlocklistSteersLiveProgram writes the peer's address into the
// blocklist of a running xdp_filter: its pings stop; an exact policy with
// no entries empties the map: they come back. The program is never
// reloaded.
func TestBlocklistSteersLiveProgram(t *testing.T) {
	testkernel.Require(t)
	host, peerNS, hostIP, peerIP := testkernel.VethPair(t)
	coll := loadFilter(t)
	attachXDP(t, coll.Programs["xdp_filter"], host)
	m, spec := coll.Maps["blocklist"], blocklistSpec(t)
	progID := programID(t, coll.Programs["xdp_filter"])

	if n := testkernel.Ping(t, peerNS, hostIP, 3); n != 3 {
		t.Fatalf("before any policy: %d of 3 pings answered", n)
	}
	res := mustApply(t, m, spec, Merge, true, entry(fmt.Sprintf(`{"addr": %q}`, peerIP), `{"drops": 0}`))
	want(t, res, 1, 0, 1)
	if n := testkernel.Ping(t, peerNS, hostIP, 3); n != 0 {
		t.Fatalf("peer %s blocked: %d of 3 pings answered", peerIP, n)
	}
	t.Logf("blocklist: %s", dumpJSON(t, m, spec))
	if drops := contents(t, m)[ipOf(t, peerIP)]; drops < 3 {
		t.Fatalf("blocklist counts %d drops from %s, want at least 3", drops, peerIP)
	}

	want(t, mustApply(t, m, spec, Exact, false), 0, 0, 0)
	if n := testkernel.Ping(t, peerNS, hostIP, 3); n != 3 {
		t.Fatalf("blocklist emptied: %d of 3 pings answered", n)
	}
	if id := programID(t, coll.Programs["xdp_filter"]); id != progID {
		t.Fatalf("program reloaded: id %d, was %d", id, progID)
	}
}

func loadFilter(t *testing.T) *ebpf.Collection {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.XDPFilter))
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("load xdp_filter: %v", err)
	}
	t.Cleanup(coll.Close)
	return coll
}

func attachXDP(t *testing.T, prog *ebpf.Program, ifname string) {
	t.Helper()
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: iface.Index, Flags: link.XDPGenericMode})
	if err != nil {
		t.Fatalf("attach xdp_filter to %s: %v", ifname, err)
	}
	t.Cleanup(func() { l.Close() })
}

func programID(t *testing.T, prog *ebpf.Program) ebpf.ProgramID {
	t.Helper()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return id
}

// dumpJSON shows a map's entries decoded through its BTF.
func dumpJSON(t *testing.T, m *ebpf.Map, spec *ebpf.MapSpec) string {
	t.Helper()
	keys, values, err := dump(m)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range keys.len() {
		out = append(out, fmt.Sprintf("%s=%s", Decode(keys.at(i), spec.Key), Decode(values.at(i), spec.Value)))
	}
	return fmt.Sprint(out)
}

// ipOf is an IPv4 address as the uint32 contents reports.
func ipOf(t *testing.T, s string) uint32 {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		t.Fatalf("%q: not IPv4", s)
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}
