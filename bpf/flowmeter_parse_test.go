package bpf_test

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestFlowmeterParses runs flow_egress on packets the test builds
// (BPF_PROG_RUN): each lands in its flow with the addresses, ports and
// protocol a reader expects, and a packet that is not IP in no flow.
func TestFlowmeterParses(t *testing.T) {
	testkernel.Require(t)
	tcp6 := ipv6(6, "2001:db8::1", "2001:db8::2", l4(40000, 443, 20))
	udpOpts := ipv4(17, "192.0.2.1", "192.0.2.2", 2, 0, l4(5353, 53, 8))
	fragment := ipv4(17, "192.0.2.3", "192.0.2.2", 0, 185, l4(5353, 53, 8))
	echo6 := ipv6(58, "2001:db8::1", "2001:db8::3", []byte{128, 0, 0, 0, 0, 1, 0, 1})
	for _, tc := range []struct {
		name   string
		packet []byte
		want   flowKey
	}{
		{"TCP over IPv6", eth(0x86dd, tcp6), v6Flow("2001:db8::1", "2001:db8::2", 40000, 443, 6)},
		{"UDP over IPv4 with options", eth(0x0800, udpOpts), v4Flow("192.0.2.1", "192.0.2.2", 5353, 53, 17, 0, egress)},
		{"IPv4 fragment: no ports", eth(0x0800, fragment), v4Flow("192.0.2.3", "192.0.2.2", 0, 0, 17, 0, egress)},
		{"ICMPv6 echo request", eth(0x86dd, echo6), v6Flow("2001:db8::1", "2001:db8::3", 0, 128<<8, 58)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flows, stats := runEgress(t, tc.packet, 1, 1)
			want := map[flowKey]flowStats{tc.want: {Packets: 1, Bytes: uint64(len(tc.packet))}}
			if !sameFlows(flows, want) {
				t.Errorf("flows %v, want %v", flows, want)
			}
			if stats[statNotIP] != 0 {
				t.Errorf("%d packets counted as not IP", stats[statNotIP])
			}
		})
	}
	t.Run("ARP", func(t *testing.T) {
		flows, stats := runEgress(t, eth(0x0806, make([]byte, 28)), 1, 1)
		if len(flows) != 0 || stats[statNotIP] != 1 {
			t.Errorf("flows %v, %d packets not IP; want none, 1", flows, stats[statNotIP])
		}
	})
}

// TestFlowmeterSampling sets the global sampling to 4: of 400 runs on one
// packet, about one in 4 is sampled and counts as 4 packets of its size.
// The bounds (half to one and a half times the expected 100 samples) miss
// a correct program with odds under 1e-8.
func TestFlowmeterSampling(t *testing.T) {
	testkernel.Require(t)
	packet := eth(0x0800, ipv4(17, "192.0.2.1", "192.0.2.2", 0, 0, l4(1, 2, 8)))
	flows, stats := runEgress(t, packet, 4, 400)
	if len(flows) != 1 {
		t.Fatalf("flows %v, want one", flows)
	}
	runs := stats[statEgress]
	for _, s := range flows {
		if s.Packets%4 != 0 || s.Packets < runs/2 || s.Packets > runs*3/2 || s.Bytes != s.Packets*uint64(len(packet)) {
			t.Errorf("sampled flow: %d packets, %d bytes of %d runs; want about %d packets of %d bytes, a multiple of 4",
				s.Packets, s.Bytes, runs, runs, len(packet))
		}
	}
}

// runEgress loads flow_egress with the global sampling, runs it repeat
// times on packet and returns its flows (ifindex cleared) and stats.
func runEgress(t *testing.T, packet []byte, sampling uint32, repeat uint32) (map[flowKey]flowStats, []uint64) {
	t.Helper()
	spec, err := testkernel.FlowmeterSpec("flow_egress")
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Variables["sampling"].Set(sampling); err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	ret, err := coll.Programs["flow_egress"].Run(&ebpf.RunOptions{Data: packet, Repeat: repeat})
	if err != nil || int32(ret) != -1 {
		t.Fatalf("run flow_egress: returned %d, %v; want TCX_NEXT (-1)", int32(ret), err)
	}
	flows := map[flowKey]flowStats{}
	var k flowKey
	var s flowStats
	for it := coll.Maps["flows"].Iterate(); it.Next(&k, &s); {
		k.Ifindex = 0
		flows[k] = s
	}
	stats := make([]uint64, statConsumed+1)
	for i := range stats {
		stats[i] = mapValue(t, coll.Maps["stats"], uint32(i))
	}
	return flows, stats
}

// sameFlows compares flows by key, packets and bytes.
func sameFlows(got, want map[flowKey]flowStats) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g.Packets != w.Packets || g.Bytes != w.Bytes {
			return false
		}
	}
	return true
}

func v6Flow(src, dst string, sport, dport uint16, proto uint8) flowKey {
	k := flowKey{Sport: sport, Dport: dport, Family: 6, Proto: proto, Direction: egress}
	copy(k.Saddr[:], net.ParseIP(src))
	copy(k.Daddr[:], net.ParseIP(dst))
	return k
}

// eth frames payload as Ethernet of type proto.
func eth(proto uint16, payload []byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0, 0}
	binary.BigEndian.PutUint16(b[12:], proto)
	return append(b, payload...)
}

// ipv4 wraps l4 in an IPv4 header of options 4-byte words of options
// (NOPs), fragment offset frag (8-byte units).
func ipv4(proto uint8, src, dst string, options int, frag uint16, l4 []byte) []byte {
	h := make([]byte, 20+4*options)
	for i := 20; i < len(h); i++ {
		h[i] = 1
	}
	h[0] = 0x40 | byte(5+options)
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(l4)))
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = 64, proto
	copy(h[12:], net.ParseIP(src).To4())
	copy(h[16:], net.ParseIP(dst).To4())
	return append(h, l4...)
}

// ipv6 wraps l4 in an IPv6 header.
func ipv6(next uint8, src, dst string, l4 []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6], h[7] = next, 64
	copy(h[8:], net.ParseIP(src))
	copy(h[24:], net.ParseIP(dst))
	return append(h, l4...)
}

// l4 is a TCP or UDP header of n bytes with its ports.
func l4(sport, dport uint16, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	return b
}
