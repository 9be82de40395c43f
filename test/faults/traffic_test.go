package faults

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// breaches counts the IPv4 packets from one address that reach the host's
// network stack through one interface: those the XDP program passed. A
// packet socket sees a received packet after generic XDP ran, so dropped
// packets never reach it. The kernel counts: the socket's filter accepts
// only received packets from the address, and the socket's statistics
// count what it accepted, as the packet arrives. (Counting what a reader
// took off the socket fell behind: a ping could be answered before the
// reader had seen its request.) A reader empties the socket so that it
// never fills.
type breaches struct {
	fd   int
	stop atomic.Bool
	done chan struct{}

	mu sync.Mutex
	n  int64 // accepted so far (the statistics restart at each read)
}

// countBreaches counts packets from addr arriving on iface until the test
// ends.
func countBreaches(t *testing.T, iface, addr string) *breaches {
	t.Helper()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	// Protocol 0: the socket receives nothing until it is bound, after
	// its filter is in place.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	b := &breaches{fd: fd, done: make(chan struct{})}
	filter := fromAddress(net.ParseIP(addr).To4())
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	proto := htons(unix.ETH_P_IP)
	for _, err := range []error{
		unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
		unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}),
	} {
		if err != nil {
			unix.Close(fd)
			t.Fatalf("packet socket on %s: %v", iface, err)
		}
	}
	t.Cleanup(b.close)
	go b.drain()
	return b
}

// fromAddress is a socket filter accepting the received IPv4 packets from
// addr (a datagram packet socket's filter reads from the IP header).
func fromAddress(addr net.IP) []unix.SockFilter {
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: skfPacketType},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.PACKET_OUTGOING, Jt: 3},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 12}, // the source address
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: binary.BigEndian.Uint32(addr), Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff}, // accept
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},      // drop
	}
}

// skfPacketType is where a socket filter loads the packet's type from
// (linux/filter.h: SKF_AD_OFF + SKF_AD_PKTTYPE).
const skfPacketType = 0xfffff000 + 4

// drain reads what the socket received until close.
func (b *breaches) drain() {
	defer close(b.done)
	buf := make([]byte, 2048)
	for !b.stop.Load() {
		_, _, _ = unix.Recvfrom(b.fd, buf, 0) // returns at least every 100 ms, to look at stop
	}
}

// count is the number of breaches so far. It fails the test if the socket
// dropped packets (it filled up): the reader could not keep up with a
// flood, which then went on unwatched.
func (b *breaches) count(t *testing.T) int64 {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	stats, err := unix.GetsockoptTpacketStats(b.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Drops > 0 {
		t.Fatalf("the breach counter's socket dropped %d packets", stats.Drops)
	}
	b.n += int64(stats.Packets)
	return b.n
}

func (b *breaches) close() {
	if b.stop.Swap(true) {
		return
	}
	<-b.done
	unix.Close(b.fd)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// flood is a ping flood from the peer's namespace to the host's address:
// pingers pings, each sending an echo request every 2 ms (ping slows down
// when no reply comes back, hence several).
type flood struct{ pings []*ping }

type ping struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

const pingers = 4

func startFlood(t *testing.T, n veth) *flood {
	t.Helper()
	f := &flood{}
	for range pingers {
		p := &ping{cmd: exec.Command("ip", "netns", "exec", n.ns, "ping", "-q", "-n", "-i", "0.002", n.hostIP)}
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
		f.pings = append(f.pings, p)
	}
	return f
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)

// stop stops the flood and returns how many requests it sent and how
// many replies came back.
func (f *flood) stop(t *testing.T) (sent, answered int) {
	t.Helper()
	for _, p := range f.pings {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		err := p.cmd.Wait()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		m := pingSummary.FindSubmatch(p.out.Bytes())
		if m == nil {
			t.Fatalf("ping flood: no summary in its output:\n%s", p.out.Bytes())
		}
		s, _ := strconv.Atoi(string(m[1]))
		a, _ := strconv.Atoi(string(m[2]))
		sent, answered = sent+s, answered+a
	}
	return sent, answered
}
