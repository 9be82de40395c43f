package faults

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// updatePoints are the steps an XDP update passes, each of which must be
// killed at least once: load, stage, the link moved in place and pinned
// again, swap, publish, the old revision unpinned.
var updatePoints = []string{"load", "stage", "update", "update-pin", "swap", "publish", "unpin"}

// The agent is SIGKILLed at every step of an update of an XDP packet
// counter (steps from a census run, as TestKillAtEveryStep takes them)
// while ping floods its veth; started again, it finishes the update. The
// counter is one map shared by every revision (a MapPolicy, shared), so
// it must rise by exactly the interface's rx_packets delta: no packet
// passes an empty hook, none is counted twice. The map stays the same,
// and the node ends as the spec says: one revision pinned whole, the
// reported link on the veth, no staging directory, no other program using
// the map. Every step is killed (about 5 s each).
func TestKillMidUpdateHookNeverEmpty(t *testing.T) {
	s := start(t)
	steps := updateCensus(t, s)
	var killed []step
	for _, st := range steps {
		t.Run(st.at, func(t *testing.T) {
			if killMidUpdate(t, s, st) && !t.Failed() {
				killed = append(killed, st)
			}
		})
	}
	checkEveryPointKilled(t, steps, killed)
	t.Logf("%d of %d steps of an update killed, no packet missed or doubled: %v", len(killed), len(steps), killed)
}

// counted is an XDP packet counter on a case's veth, counting into one
// map that every revision shares.
type counted struct {
	h   *host
	c   client.Client
	net veth
	xdp *bpfleetv1.XdpProgram
	mp  *bpfleetv1.MapPolicy
}

func newCounted(t *testing.T, h *host) *counted {
	k := &counted{h: h, c: h.s.stack.Client, net: newVeth(t)}
	k.xdp = xdpProgram(h.s, "faults-hook-counter", "xdp-counter", "xdp_count", k.net.host)
	k.mp = &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "faults-hook-packets"},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "XdpProgram", Name: k.xdp.Name}}},
			MapName:  "packets", Shared: true,
		},
	}
	t.Cleanup(func() { h.deleteAll(k.mp, k.xdp) })
	return k
}

// create makes the policy, then the program: its first revision counts
// into the shared map.
func (k *counted) create() {
	for _, o := range []client.Object{k.mp, k.xdp} {
		if err := k.c.Create(context.Background(), o); err != nil {
			k.h.t.Fatal(err)
		}
	}
}

// live reports whether the program and the policy are Ready at their
// generations.
func (k *counted) live(ctx context.Context) bool {
	return programReady(ctx, k.c, k.xdp) && policyReady(ctx, k.c, k.mp)
}

// update makes a new revision: drop_icmp set (dropped packets are counted
// too).
func (k *counted) update() {
	base := k.xdp.DeepCopy()
	k.xdp.Spec.GlobalData = map[string]bpfleetv1.GlobalValue{"drop_icmp": "1"}
	if err := k.c.Patch(context.Background(), k.xdp, client.MergeFrom(base)); err != nil {
		k.h.t.Fatal(err)
	}
}

// reading is the shared counter and the veth's rx_packets at one moment
// with no traffic.
type reading struct{ counted, received uint64 }

func (k *counted) read(mapID uint32) reading {
	return reading{testkernel.MapValue(k.h.t, mapID, uint32(0)), testkernel.RxPackets(k.h.t, k.net.host)}
}

// updateCensus runs the update once with no fault, checking its count,
// and returns the steps the update passed, each numbered by its
// occurrence since the agent started (the create passes some too).
func updateCensus(t *testing.T, s *suite) []step {
	var steps []step
	t.Run("no fault", func(t *testing.T) {
		h := newHost(t, s)
		h.trace = filepath.Join(t.TempDir(), "trace")
		k := newCounted(t, h)
		h.start("")
		k.create()
		h.settle("the counter Ready", k.live)
		created := traced(t, h.trace)
		k.updateUnderFlood(step{})
		seen := map[string]int{}
		for i, name := range traced(t, h.trace) {
			seen[name]++
			if i >= len(created) {
				steps = append(steps, step{"update", fmt.Sprintf("%s#%d", name, seen[name])})
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	for _, p := range updatePoints {
		if !slices.ContainsFunc(steps, func(st step) bool { return strings.HasPrefix(st.at, p+"#") }) {
			t.Errorf("the update passed no step %s (it passed %v)", p, steps)
		}
	}
	return steps
}

// killMidUpdate runs the update with the agent to be killed at st. It
// reports whether the agent reached st: if it did not (this run's passes
// fell otherwise than the census's), it says so and the update is
// checked all the same.
func killMidUpdate(t *testing.T, s *suite, st step) bool {
	h := newHost(t, s)
	k := newCounted(t, h)
	h.start(st.at)
	k.create()
	if h.await("the counter Ready", k.live) {
		t.Fatalf("killed at %s before the update; the census passed it in the update", st.at)
	}
	killed := k.updateUnderFlood(st)
	if !killed {
		t.Logf("the agent finished the update without reaching %s: this run's passes fell otherwise than the census's", st.at)
	}
	return killed
}

// minFlood is how long a flood lasts at least: a fast update (an agent
// pass of a few milliseconds) would otherwise see too few packets to
// tell a gap.
const minFlood = time.Second

// updateUnderFlood updates the counter while ping floods its veth; if
// the agent dies of the kill at st, it is started again. Once the update
// is live and the flood over, the shared counter must have risen by the
// packets the veth received, in the same map, and the node must run the
// new revision as reported. It reports whether the agent was killed.
func (k *counted) updateUnderFlood(st step) (killed bool) {
	t := k.h.t
	before := k.check()
	mapID := before.Objects.MapIDs["packets"]
	r0 := k.read(mapID)
	f := startFlood(t, k.net)
	flooded := time.Now().Add(minFlood)
	time.Sleep(100 * time.Millisecond) // the flood runs before the update
	k.update()
	if killed = k.h.await("the update live", k.live); killed {
		k.h.start("")
		k.h.settle("the update live after the restart", k.live)
	}
	time.Sleep(time.Until(flooded)) // enough packets, however fast the update
	sent, _ := f.stop(t)
	time.Sleep(200 * time.Millisecond) // the last packets cross the veth
	r1 := k.read(mapID)
	after := k.check()
	received, counted := r1.received-r0.received, r1.counted-r0.counted
	t.Logf("kill at %q (killed: %v): %d echo requests sent, %d packets received, %d counted; program %d -> %d, counter map %d",
		st.at, killed, sent, received, counted, before.ProgramID, after.ProgramID, mapID)
	if counted != received {
		t.Errorf("the shared counter rose by %d, the veth received %d packets: %d missed by an empty hook (negative: counted twice)",
			counted, received, int64(received)-int64(counted))
	}
	if received < 100 {
		t.Errorf("only %d packets crossed the veth during the update: the test needs traffic", received)
	}
	if after.Objects.MapIDs["packets"] != mapID {
		t.Errorf("counter map %d after the update, want the shared map %d", after.Objects.MapIDs["packets"], mapID)
	}
	if after.ProgramID == before.ProgramID {
		t.Errorf("program %d still runs after the update", after.ProgramID)
	}
	return killed
}

// check asserts that the node runs the counter as reported: its revision
// pinned whole with its link on the veth, the pin root holding that
// revision and the shared map only (no staging directory), the veth's one
// XDP link the reported one, and no other program using the shared map.
func (k *counted) check() bpfleetv1.NodeProgramStatus {
	t := k.h.t
	t.Helper()
	st := nodeEntry(t, k.c, k.xdp.UID)
	checkPins(t, st, k.net.host)
	checkRootShared(t, k.h.pinRoot, st, k.mp.Name)
	eventually(t, "the XDP links on the veth are those reported", func() error {
		return sameIDs("XDP links on "+k.net.host, xdpLinks(t, k.net.host), linkIDs(st))
	})
	eventually(t, "the programs using the shared counter are those reported", func() error {
		return sameIDs("programs using map "+strconv.Itoa(int(st.Objects.MapIDs["packets"])), usersOf(t, st.Objects.MapIDs["packets"]), programIDs(st))
	})
	return st
}

// checkRootShared asserts that the pin root holds st's revision directory
// and the shared map named shared, nothing else.
func checkRootShared(t *testing.T, root string, st bpfleetv1.NodeProgramStatus, shared string) {
	t.Helper()
	rel, _ := filepath.Rel(root, st.PinPath)
	want := []string{filepath.Dir(rel), rel, "shared", filepath.Join("shared", shared)}
	var got []string
	for _, p := range pinsUnder(t, root) {
		if strings.Count(p, "/") <= 1 {
			got = append(got, p)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("pin root holds %v, want %v (one revision, the shared map, no staging)", got, want)
	}
}

// usersOf lists the programs in the kernel that use map id.
func usersOf(t *testing.T, id uint32) []uint32 {
	t.Helper()
	return testkernel.Programs(t, func(pid ebpf.ProgramID) bool {
		prog, err := ebpf.NewProgramFromID(pid)
		if err != nil {
			return false // freed meanwhile
		}
		defer prog.Close()
		info, err := prog.Info()
		if err != nil {
			return false
		}
		maps, _ := info.MapIDs()
		return slices.Contains(maps, ebpf.MapID(id))
	})
}
