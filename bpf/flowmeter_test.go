package bpf_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/ringbuf"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

// tcxHere reports whether this kernel has TCX links, as the agent's probe
// of the hook says; where it has none, it checks that attaching the flow
// meter's TCX programs to iface is refused as not supported.
func tcxHere(t *testing.T, iface string) bool {
	t.Helper()
	hook, err := attach.Lookup(bpfleetv1.HookTCX)
	if err != nil {
		t.Fatal(err)
	}
	probeErr := hook.Probe()
	if probeErr == nil {
		return true
	}
	spec, err := testkernel.FlowmeterSpec("flow_ingress")
	if err != nil {
		t.Fatal(err)
	}
	fm, err := testkernel.LoadFlowmeter(spec, iface)
	if err == nil {
		fm.Close()
		t.Fatalf("attached flow_ingress, but the TCX probe said: %v", probeErr)
	}
	if !errors.Is(err, ebpf.ErrNotSupported) {
		t.Fatalf("attach flow_ingress on a kernel without TCX (%v): %v, want not supported", probeErr, err)
	}
	t.Logf("no TCX on this kernel (probe: %v): %v", probeErr, err)
	return false
}

// flowKey, flowStats and flowEvent are flowmeter.c's structs.
type flowKey struct {
	Saddr, Daddr                  [16]byte
	Sport, Dport                  uint16
	Ifindex                       uint32
	Family, Proto, Direction, Pad uint8
}

type flowStats struct {
	Packets, Bytes, FirstNs, LastNs uint64
}

type flowEvent struct {
	Key     flowKey
	Bytes   uint32
	FirstNs uint64
}

// flowmeter.c's enum stat, and its flow directions.
const (
	statIngress = iota
	statEgress
	statNotIP
	statNewFlows
	statLost
	statDrops
	statTCPRcv
	statConsumed

	ingress, egress = 0, 1
)

const (
	ethIP, ethIPv4UDP = 14 + 20, 14 + 20 + 8
	icmpEchoRequest   = 8 << 8
	icmpPortUnreach   = 3<<8 | 3
)

// TestFlowmeter runs the example application as one collection on a veth
// pair, with traffic from a network namespace: the flow hash counts each
// direction of each flow exactly, the ring buffer announces each flow once,
// the drop counter counts packets to a closed port under their reason, and
// the programs share the collection's maps (bpftool's map IDs). tcp_rcv
// (fentry, which this VM refuses) stays out. On a kernel without TCX
// (Linux before 6.6), as the agent's probe finds, the load must say so.
func TestFlowmeter(t *testing.T) {
	testkernel.Require(t)
	host, ns, hostIP, peerIP := testkernel.VethPair(t)
	if !tcxHere(t, host) {
		return
	}
	// No IPv6 on the host's end either: no router solicitations or
	// multicast reports leaving at random times, so every flow is the test's.
	sysctl(t, "net.ipv6.conf."+host+".disable_ipv6=1")
	fm := testkernel.AttachFlowmeter(t, host, "flow_ingress", "flow_egress", "count_drops", "count_consumed")
	ring, err := ringbuf.NewReader(fm.Maps["new_flows"])
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	ifindex := interfaceIndex(t, host)
	flow := func(src, dst string, sport, dport uint16, proto, dir uint8) flowKey {
		return v4Flow(src, dst, sport, dport, proto, ifindex, dir)
	}

	if got := testkernel.Ping(t, ns, hostIP, 3); got != 3 {
		t.Fatalf("ping: %d replies of 3", got)
	}
	known := []flowKey{
		flow(peerIP, hostIP, 0, icmpEchoRequest, 1, ingress),
		flow(hostIP, peerIP, 0, 0, 1, egress),
	}
	for _, k := range known {
		wantFlow(t, fm, k, 3, 3*(ethIP+64)) // ping's 64-byte ICMP packets
	}

	client, server := udpEcho(t, ns, hostIP, 4, 100)
	known = append(known,
		flow(peerIP, hostIP, uint16(client.Port), uint16(server.Port), 17, ingress),
		flow(hostIP, peerIP, uint16(server.Port), uint16(client.Port), 17, egress))
	for _, k := range known[2:] {
		wantFlow(t, fm, k, 4, 4*(ethIPv4UDP+100))
	}

	noSocket := dropReason(t, "SKB_DROP_REASON_NO_SOCKET")
	before := mapValue(t, fm.Maps["drops"], noSocket)
	client, port := udpToClosedPort(t, ns, peerIP, hostIP, 5, 10)
	closed := flow(peerIP, hostIP, uint16(client.Port), port, 17, ingress)
	known = append(known, closed)
	eventually(t, "5 packets to the closed port counted", func() bool { return flowOf(t, fm, closed).Packets >= 5 })
	wantFlow(t, fm, closed, 5, 5*(ethIPv4UDP+10))
	eventually(t, "5 NO_SOCKET drops counted", func() bool { return mapValue(t, fm.Maps["drops"], noSocket)-before >= 5 })
	unreachable := flow(hostIP, peerIP, 0, icmpPortUnreach, 1, egress)
	if s := flowOf(t, fm, unreachable); s.Packets < 1 || s.Packets > 5 {
		t.Errorf("flow %s: %d packets, want 1 to 5 (the kernel limits their rate)", describe(unreachable), s.Packets)
	}

	consumed := mapValue(t, fm.Maps["stats"], statConsumed)
	tcpClient, tcpServer := tcpExchange(t, ns, hostIP)
	for _, k := range []flowKey{
		flow(peerIP, hostIP, uint16(tcpClient.Port), uint16(tcpServer.Port), 6, ingress),
		flow(hostIP, peerIP, uint16(tcpServer.Port), uint16(tcpClient.Port), 6, egress),
	} {
		known = append(known, k)
		if s := flowOf(t, fm, k); s.Packets < 3 || s.Bytes < 3*(ethIP+20) {
			t.Errorf("TCP flow %s: %d packets, %d bytes; want the handshake and the data at least", describe(k), s.Packets, s.Bytes)
		}
	}
	if mapValue(t, fm.Maps["stats"], statConsumed) <= consumed {
		t.Error("count_consumed counted no packet delivered by the TCP exchange")
	}

	wantOneEventPerFlow(t, fm, ring, known)
	wantSharedMaps(t, fm)
}

// wantFlow checks the flow k has counted exactly packets and bytes.
func wantFlow(t *testing.T, fm *testkernel.Flowmeter, k flowKey, packets, bytes uint64) {
	t.Helper()
	s := flowOf(t, fm, k)
	if s.Packets != packets || s.Bytes != bytes {
		t.Errorf("flow %s: %d packets, %d bytes; want %d, %d", describe(k), s.Packets, s.Bytes, packets, bytes)
	}
	if s.FirstNs == 0 || s.LastNs < s.FirstNs {
		t.Errorf("flow %s: first seen %d ns, last %d", describe(k), s.FirstNs, s.LastNs)
	}
}

// wantOneEventPerFlow drains the ring buffer and checks it announced each
// flow of the hash once, and no other, with its first packet's size; and
// that the hash holds the known flows.
func wantOneEventPerFlow(t *testing.T, fm *testkernel.Flowmeter, ring *ringbuf.Reader, known []flowKey) {
	t.Helper()
	flows := map[flowKey]flowStats{}
	var k flowKey
	var s flowStats
	for it := fm.Maps["flows"].Iterate(); it.Next(&k, &s); {
		flows[k] = s
	}
	events := drain(t, ring)
	announced := map[flowKey]int{}
	for _, ev := range events {
		announced[ev.Key]++
		if s, ok := flows[ev.Key]; !ok {
			t.Errorf("flow %s announced but not in the hash", describe(ev.Key))
		} else if ev.FirstNs != s.FirstNs || ev.Bytes == 0 || uint64(ev.Bytes) > s.Bytes {
			t.Errorf("flow %s announced first seen %d ns, %d bytes; the hash says %d ns, %d bytes in all",
				describe(ev.Key), ev.FirstNs, ev.Bytes, s.FirstNs, s.Bytes)
		}
	}
	for k := range flows {
		if announced[k] != 1 {
			t.Errorf("flow %s announced %d times, want once", describe(k), announced[k])
		}
	}
	for _, k := range known {
		if _, ok := flows[k]; !ok {
			t.Errorf("flow %s not in the hash", describe(k))
		}
	}
	if n := mapValue(t, fm.Maps["stats"], statNewFlows); n != uint64(len(events)) {
		t.Errorf("%d flows created, %d announced", n, len(events))
	}
}

// drain reads the records in the ring buffer now.
func drain(t *testing.T, ring *ringbuf.Reader) []flowEvent {
	t.Helper()
	ring.SetDeadline(time.Now())
	var out []flowEvent
	for {
		rec, err := ring.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatalf("read new_flows: %v", err)
		}
		var ev flowEvent
		if err := decode(rec.RawSample, &ev); err != nil {
			t.Fatalf("new_flows record of %d bytes: %v", len(rec.RawSample), err)
		}
		out = append(out, ev)
	}
}

// wantSharedMaps checks, as bpftool prog show does, that the programs use
// the collection's maps: one map ID each, stats used by every program.
func wantSharedMaps(t *testing.T, fm *testkernel.Flowmeter) {
	t.Helper()
	uses := map[string][]string{
		"flow_ingress":   {"flows", "new_flows", "stats", ".rodata"},
		"flow_egress":    {"flows", "new_flows", "stats", ".rodata"},
		"count_drops":    {"drops", "stats"},
		"count_consumed": {"stats"},
	}
	for prog, maps := range uses {
		info, err := fm.Programs[prog].Info()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := info.MapIDs()
		if !ok {
			t.Fatal("the kernel reports no map IDs of programs")
		}
		var want []ebpf.MapID
		for _, m := range maps {
			want = append(want, mapID(t, fm.Maps[m]))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("program %s uses maps %v, want the collection's %v (%v)", prog, got, want, maps)
		}
	}
}

// dropReason is the value of name in the kernel's enum skb_drop_reason.
func dropReason(t *testing.T, name string) uint32 {
	t.Helper()
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	var reasons *btf.Enum
	if err := spec.TypeByName("skb_drop_reason", &reasons); err != nil {
		t.Fatalf("kernel BTF: %v", err)
	}
	for _, v := range reasons.Values {
		if v.Name == name {
			return uint32(v.Value)
		}
	}
	t.Fatalf("the kernel has no drop reason %s", name)
	return 0
}

// udpEcho sends n datagrams of size bytes from ns to a UDP echo server
// on hostIP, waiting for each echo, and returns the two ends.
func udpEcho(t *testing.T, ns, hostIP string, n, size int) (client, server *net.UDPAddr) {
	t.Helper()
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(hostIP)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	server = srv.LocalAddr().(*net.UDPAddr)
	go echoUDP(srv, n)
	var c *net.UDPConn
	testkernel.InNetns(t, ns, func() (err error) {
		c, err = net.DialUDP("udp4", nil, server)
		return err
	})
	defer c.Close()
	deadline(t, c)
	buf := make([]byte, size)
	for range n {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("UDP echo: %v", err)
		}
	}
	return c.LocalAddr().(*net.UDPAddr), server
}

func echoUDP(srv *net.UDPConn, n int) {
	buf := make([]byte, 2048)
	for range n {
		k, from, err := srv.ReadFromUDP(buf)
		if err != nil {
			return
		}
		_, _ = srv.WriteToUDP(buf[:k], from)
	}
}

// udpToClosedPort sends n datagrams of size bytes from ns to a port of
// hostIP that no socket holds, and returns the sender and the port.
func udpToClosedPort(t *testing.T, ns, peerIP, hostIP string, n, size int) (*net.UDPAddr, uint16) {
	t.Helper()
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(hostIP)})
	if err != nil {
		t.Fatal(err)
	}
	to := l.LocalAddr().(*net.UDPAddr)
	l.Close()
	var c *net.UDPConn
	testkernel.InNetns(t, ns, func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(peerIP)})
		return err
	})
	defer c.Close()
	for range n {
		if _, err := c.WriteToUDP(make([]byte, size), to); err != nil {
			t.Fatal(err)
		}
	}
	return c.LocalAddr().(*net.UDPAddr), uint16(to.Port)
}

// tcpExchange connects from ns to a TCP server on hostIP, sends a line,
// reads the server's answer and closes; it returns the two ends.
func tcpExchange(t *testing.T, ns, hostIP string) (client, server *net.TCPAddr) {
	t.Helper()
	l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.ParseIP(hostIP)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		if n, err := c.Read(buf); err == nil {
			_, _ = c.Write(buf[:n])
		}
	}()
	var c *net.TCPConn
	testkernel.InNetns(t, ns, func() (err error) {
		c, err = net.DialTCP("tcp4", nil, l.Addr().(*net.TCPAddr))
		return err
	})
	defer c.Close()
	deadline(t, c)
	buf := []byte("hello\n")
	if _, err := c.Write(buf); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("TCP answer: %v", err)
	}
	return c.LocalAddr().(*net.TCPAddr), l.Addr().(*net.TCPAddr)
}

// sysctl sets a kernel parameter (name=value) of this network namespace.
func sysctl(t *testing.T, setting string) {
	t.Helper()
	if out, err := exec.Command("sysctl", "-qw", setting).CombinedOutput(); err != nil {
		t.Fatalf("sysctl %s: %v\n%s", setting, err, out)
	}
}

// deadline keeps a lost packet from hanging the test: it is no timing
// assertion, an exchange on a veth takes microseconds.
func deadline(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
}

// eventually waits for cond, which packets still on their way through the
// stack make true (the sender does not wait for them); it fails t if cond
// is still false after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("still not %s after 10 s", what)
		}
	}
}
