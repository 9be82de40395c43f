package faults

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// breaches counts the IPv4 packets from one address that reach the host's
// network stack through one interface: those the XDP program passed. A
// packet socket sees a received packet after generic XDP ran, so dropped
// packets never reach it.
type breaches struct {
	fd   int
	n    atomic.Int64
	stop atomic.Bool
	done chan struct{}
}

// countBreaches counts packets from addr arriving on iface until the test
// ends.
func countBreaches(t *testing.T, iface, addr string) *breaches {
	t.Helper()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	proto := htons(unix.ETH_P_IP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	b := &breaches{fd: fd, done: make(chan struct{})}
	t.Cleanup(b.close)
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	for _, err := range []error{
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
		unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}),
	} {
		if err != nil {
			t.Fatalf("packet socket on %s: %v", iface, err)
		}
	}
	go b.read(net.ParseIP(addr).To4())
	return b
}

func (b *breaches) read(from net.IP) {
	defer close(b.done)
	buf := make([]byte, 2048)
	for !b.stop.Load() {
		n, sa, err := unix.Recvfrom(b.fd, buf, 0)
		if err != nil {
			continue // the timeout, to look at stop
		}
		ll, _ := sa.(*unix.SockaddrLinklayer)
		if ll != nil && ll.Pkttype != unix.PACKET_OUTGOING && n >= 20 && bytes.Equal(buf[12:16], from) {
			b.n.Add(1)
		}
	}
}

// count is the number of breaches so far. It fails the test if the socket
// dropped packets: the count would be short.
func (b *breaches) count(t *testing.T) int64 {
	t.Helper()
	stats, err := unix.GetsockoptTpacketStats(b.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Drops > 0 {
		t.Fatalf("the breach counter's socket dropped %d packets: the count is not exact", stats.Drops)
	}
	return b.n.Load()
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
