package programs_test

import (
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

const swaps = 50

// TestFiftySwapsMissNoPacket floods the host end of a veth with pings
// while the XDP program on it is replaced 50 times, alternating between
// the passing and the ICMP-dropping build. The revisions share one
// counter (a counter of each revision's own would start from its
// predecessor's count, carried over): every packet the interface received
// must be counted exactly once.
func TestFiftySwapsMissNoPacket(t *testing.T) {
	m, _ := setup(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	ld := apply(t, m, sharedPackets(xdpCounter("r0", false, host)))
	counters := []*ebpf.Map{openMap(t, ld.Maps["packets"])}
	time.Sleep(100 * time.Millisecond)
	start, rx0 := sum(t, counters), testkernel.RxPackets(t, host)

	flood := exec.Command("ip", "netns", "exec", ns, "ping", "-q", "-i", "0.0002", hostIP)
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	began := time.Now()
	for i := 1; i <= swaps; i++ {
		next := apply(t, m, sharedPackets(xdpCounter("r"+strconv.Itoa(i), i%2 == 1, host)))
		if sole(next).Links[host].ID != sole(ld).Links[host].ID || next.Maps["packets"] != ld.Maps["packets"] {
			t.Fatalf("swap %d made link %d, map %d, want link %d moved in place, counting in map %d",
				i, sole(next).Links[host].ID, next.Maps["packets"], sole(ld).Links[host].ID, ld.Maps["packets"])
		}
	}
	elapsed := time.Since(began)
	time.Sleep(100 * time.Millisecond)
	_ = flood.Process.Kill()
	_ = flood.Wait()
	time.Sleep(300 * time.Millisecond)

	received, counted := testkernel.RxPackets(t, host)-rx0, sum(t, counters)-start
	t.Logf("%d swaps in %v (%v each): %d packets received, %d counted", swaps, elapsed, elapsed/swaps, received, counted)
	if received < 300 {
		t.Fatalf("only %d packets crossed the veth; the test needs traffic", received)
	}
	if counted != received {
		t.Fatalf("counted %d packets over %d revisions, the interface received %d: the hook was empty or doubled",
			counted, swaps+1, received)
	}
}

func sum(t *testing.T, maps []*ebpf.Map) uint64 {
	t.Helper()
	var total uint64
	for _, mp := range maps {
		var n uint64
		if err := mp.Lookup(uint32(0), &n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// sharedPackets makes p count in one map shared by all its revisions.
func sharedPackets(p programs.Program) programs.Program {
	p.Maps = map[string]programs.MapConfig{"packets": {Shared: "xdp-packets"}}
	return p
}
