package testkernel

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// VethPair creates a veth pair for a test: host stays in this network
// namespace, its peer goes into peerNS, a fresh namespace made with
// `ip netns add`. Both ends are up, with addresses hostIP and peerIP on a
// private /30; the namespace has IPv6 off and each end knows the other's
// MAC address for good (no ARP), so the only packets host receives are
// the test's. The test's cleanup deletes both. Call Require first.
func VethPair(tb testing.TB) (host, peerNS, hostIP, peerIP string) {
	tb.Helper()
	b := randomBytes(tb)
	id := hex.EncodeToString(b)
	peer := "bpfp" + id
	host, peerNS = "bpft"+id, "bpfleet-test-"+id
	base := int(b[1]) % 64 * 4
	hostIP = fmt.Sprintf("10.199.%d.%d", b[0], base+1)
	peerIP = fmt.Sprintf("10.199.%d.%d", b[0], base+2)
	ip(tb, "netns", "add", peerNS)
	tb.Cleanup(func() { ipQuiet("netns", "del", peerNS) })
	// No IPv6 in the netns: no router solicitations or DAD probes arriving
	// on host at random times, so tests can count packets exactly.
	ip(tb, "netns", "exec", peerNS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	ip(tb, "link", "add", host, "type", "veth", "peer", "name", peer, "netns", peerNS)
	tb.Cleanup(func() { ipQuiet("link", "del", host) })
	ip(tb, "addr", "add", hostIP+"/30", "dev", host)
	ip(tb, "link", "set", host, "up")
	ip(tb, "-n", peerNS, "addr", "add", peerIP+"/30", "dev", peer)
	ip(tb, "-n", peerNS, "link", "set", peer, "up")
	ip(tb, "-n", peerNS, "link", "set", "lo", "up")
	// No ARP either: a neighbour entry going stale mid-test would send
	// host a packet no program of the test counts.
	ip(tb, "neigh", "replace", peerIP, "lladdr", macOf(tb, "", peer, peerNS), "dev", host, "nud", "permanent")
	ip(tb, "-n", peerNS, "neigh", "replace", hostIP, "lladdr", macOf(tb, host, "", ""), "dev", peer, "nud", "permanent")
	return host, peerNS, hostIP, peerIP
}

// macOf is the MAC address of host (in this namespace) or of peer in
// namespace ns.
func macOf(tb testing.TB, host, peer, ns string) string {
	tb.Helper()
	args := []string{"-br", "link", "show", host}
	if peer != "" {
		args = []string{"-n", ns, "-br", "link", "show", peer}
	}
	out, err := exec.Command("ip", args...).Output()
	f := strings.Fields(string(out))
	if err != nil || len(f) < 3 {
		tb.Fatalf("ip %v: %v %q", args, err, out)
	}
	return f[2]
}

var received = regexp.MustCompile(`(\d+) (?:packets )?received`)

// Ping sends count ICMP echo requests from network namespace ns to ip,
// 0.2 s apart, waiting at most a second for each reply, and returns how
// many replies came back.
func Ping(tb testing.TB, ns, ip string, count int) int {
	tb.Helper()
	out, _ := exec.Command("ip", "netns", "exec", ns, "ping", "-n", "-c", strconv.Itoa(count),
		"-W", "1", "-i", "0.2", ip).CombinedOutput()
	m := received.FindSubmatch(out)
	if m == nil {
		tb.Fatalf("ping %s from netns %s: no summary in output:\n%s", ip, ns, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// ip runs the ip(8) command with args and fails tb if it fails.
func ip(tb testing.TB, args ...string) {
	tb.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ip %v: %v\n%s", args, err, out)
	}
}

// ipQuiet runs ip(8) for cleanup, where the object may be gone already.
func ipQuiet(args ...string) { _ = exec.Command("ip", args...).Run() }

func randomBytes(tb testing.TB) []byte {
	tb.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random name: %v", err)
	}
	return b
}

// RxPackets reads the packets iface has received.
func RxPackets(tb testing.TB, iface string) uint64 {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/class/net", iface, "statistics/rx_packets"))
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
