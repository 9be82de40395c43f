package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A blocklist filled by a MapPolicy keeps blocking while its program is
// updated (a new maxEntries reloads it): not one packet from a blocked
// address passes under a ping flood. An update whose map is too small
// for the entries the running map holds is held: the program reports
// MapFull and why, the old program keeps running and blocking, and the
// update goes through once the entries fit.
func TestMapEntriesCarriedAcrossUpdates(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host, ns, hostIP, peer := testkernel.VethPair(t)
	x := xdpFilter(s, "carry-filter", host)
	before := apply(t, s, x)
	mp := blocklist("carry-blocklist", x.Name, entry(fmt.Sprintf(`{"addr": %q}`, peer), `{}`))
	mp.Spec.Mode = bpfleetv1.MapMerge
	if err := s.Client.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client.Delete(context.Background(), mp) })
	waitPolicy(t, s.Client, mp, "MapPolicy Ready", policyReady)

	flood := startFlood(t, ns, hostIP)
	peerKey, first := netip.MustParseAddr(peer).As4(), openByID(t, before.Objects.MapIDs["blocklist"])
	poll(t, "the flood dropped", func(context.Context) bool {
		var drops uint64
		return first.Lookup(peerKey, &drops) == nil && drops >= 100
	}, func() string { return "no drops counted" })
	setMaxEntries(t, s.Client, mp, 2048)
	waitPolicy(t, s.Client, mp, "the map reloaded at 2048", func(mp *bpfleetv1.MapPolicy) bool {
		return policyReady(mp) && len(mp.Status.Usage) == 1 && mp.Status.Usage[0].MaxEntries == 2048
	})
	running := nodeEntry(t, s.Client, x.UID)
	if running.ProgramID == before.ProgramID {
		t.Fatal("a new maxEntries did not reload the program")
	}
	sent, passed := flood()
	t.Logf("update under a flood from the blocked %s: %d packets sent, %d answered", peer, sent, passed)
	if sent < 100 || passed != 0 {
		t.Fatalf("%d of %d packets from a blocked address passed during the update", passed, sent)
	}

	// Entries the policy never listed (written by another control plane)
	// fill the map beyond the size the policy asks for next.
	blocklistMap := openByID(t, running.Objects.MapIDs["blocklist"])
	for i := range 20 {
		if err := blocklistMap.Put([4]byte{10, 250, 0, byte(i)}, uint64(0)); err != nil {
			t.Fatal(err)
		}
	}
	setMaxEntries(t, s.Client, mp, 10)
	waitProgram(t, s.Client, x, "held with MapFull", func(p bpfleetv1.Program) bool {
		f := p.ProgramStatus().Failures
		return len(f) == 1 && f[0].Reason == bpfleetv1.ReasonMapFull
	})
	msg := x.Status.Failures[0].Message
	t.Logf("status says: %s", msg)
	for _, want := range []string{`map "blocklist" holds 21 entries`, "maxEntries is 10", "keeps running"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if meta.IsStatusConditionTrue(x.Status.Conditions, bpfleetv1.ConditionReady) {
		t.Error("program Ready while its update is held")
	}
	held := nodeEntry(t, s.Client, x.UID)
	if held.State != bpfleetv1.StateFailed || held.Terminal || held.ProgramID != running.ProgramID ||
		linkOn(t, held, host).LinkID != linkOn(t, running, host).LinkID || held.Objects.MapIDs["blocklist"] != running.Objects.MapIDs["blocklist"] {
		t.Errorf("node reports %+v while the update is held, want the running revision %+v", held, running)
	}
	if !bpftoolShows(t, running.ProgramID) {
		t.Errorf("program %d is gone while its update is held", running.ProgramID)
	}
	if got := testkernel.Ping(t, ns, hostIP, 2); got != 0 {
		t.Errorf("%d pings from the blocked %s answered while the update is held", got, peer)
	}

	for i := range 20 {
		if err := blocklistMap.Delete([4]byte{10, 250, 0, byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitProgram(t, s.Client, x, "Ready once the entries fit", readyNow)
	if after := nodeEntry(t, s.Client, x.UID); after.ProgramID == running.ProgramID {
		t.Error("the held update never went through")
	}
	if got := testkernel.Ping(t, ns, hostIP, 2); got != 0 {
		t.Errorf("%d pings from the blocked %s answered after the update", got, peer)
	}
}

func setMaxEntries(t *testing.T, c client.Client, mp *bpfleetv1.MapPolicy, n int32) {
	t.Helper()
	base := mp.DeepCopy()
	mp.Spec.MaxEntries = &n
	if err := c.Patch(context.Background(), mp, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

// startFlood pings ip from ns every 0.2 ms until the returned stop, which
// says how many echo requests were sent and how many answered.
func startFlood(t *testing.T, ns, ip string) (stop func() (sent, answered int)) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", ns, "ping", "-q", "-i", "0.0002", ip)
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() (int, int) {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("ping said: %s", out.String())
		}
		sent, _ := strconv.Atoi(m[1])
		answered, _ := strconv.Atoi(m[2])
		return sent, answered
	}
}

func openByID(t *testing.T, id uint32) *ebpf.Map {
	t.Helper()
	m, err := ebpf.NewMapFromID(ebpf.MapID(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
