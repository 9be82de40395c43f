package programs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// Slots of app_counter's events map.
const (
	slotIngress = uint32(0)
	slotEgress  = uint32(1)
	slotOpenat  = uint32(2)
)

// app is app_counter as an application of the programs named, on iface
// for the TCX ones: tc_ingress, tc_egress, count_openat (this process's
// calls).
func app(rev, iface string, names ...string) programs.Program {
	targets := map[string]map[string]attach.Spec{
		"tc_ingress":   {iface: attach.TCX{Interface: iface, Direction: attach.Ingress}},
		"tc_egress":    {iface: attach.TCX{Interface: iface, Direction: attach.Egress}},
		"count_openat": {"main": openat},
	}
	p := programs.Program{UID: "uid-app", Revision: programs.ParseRevision(rev), Object: bpf.AppCounter,
		GlobalData: map[string]string{"filter_pid": strconv.Itoa(os.Getpid())}}
	for _, name := range names {
		p.Programs = append(p.Programs, programs.Attachment{Name: name, Attach: targets[name]})
	}
	return p
}

// TestApplicationLoadsOnce runs two programs of one object: one load,
// both pinned with their links, one events map and one .rodata used by
// both (bpftool shows the same map IDs on each), each counting in it; a
// restarted Manager adopts them without reloading.
func TestApplicationLoadsOnce(t *testing.T) {
	m, root := setup(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	if !tcxHere(t, m, root, app("r1", host, "tc_ingress", "count_openat")) {
		return
	}
	ld := apply(t, m, app("r1", host, "tc_ingress", "count_openat"))
	if len(ld.Programs) != 2 || ld.Programs["tc_ingress"].Links[host].ID == 0 || ld.Programs["count_openat"].Links["main"].ID == 0 {
		t.Fatalf("loaded %+v, want two programs with their links", ld)
	}
	for _, pin := range []string{"progs/tc_ingress", "progs/count_openat", "links/tc_ingress/" + host, "links/count_openat/main", "maps/events"} {
		if _, err := os.Stat(filepath.Join(root, "uid-app", "r1", pin)); err != nil {
			t.Errorf("pin %s: %v", pin, err)
		}
	}
	for name, lp := range ld.Programs {
		if got := testkernel.BpftoolMapIDs(t, lp.ID); !slices.Contains(got, ld.Maps["events"]) || !slices.Contains(got, ld.Maps[".rodata"]) {
			t.Errorf("bpftool: program %s (%d) uses maps %v, want events %d and .rodata %d shared", name, lp.ID, got, ld.Maps["events"], ld.Maps[".rodata"])
		}
	}
	testkernel.OpenFiles(t, 5)
	if got := testkernel.Ping(t, ns, hostIP, 2); got != 2 {
		t.Fatalf("%d of 2 pings answered", got)
	}
	if n := testkernel.MapValue(t, ld.Maps["events"], slotOpenat); n < 5 {
		t.Errorf("count_openat counted %d of 5 opens in the shared map", n)
	}
	if n := testkernel.MapValue(t, ld.Maps["events"], slotIngress); n < 2 {
		t.Errorf("tc_ingress counted %d of 2 pings in the shared map", n)
	}

	again := apply(t, newManager(t, root), app("r1", host, "tc_ingress", "count_openat"))
	if !again.Adopted || again.Maps["events"] != ld.Maps["events"] {
		t.Fatalf("after restart %+v, want %+v adopted", again, ld)
	}
	for name, lp := range ld.Programs {
		if got := again.Programs[name]; got.ID != lp.ID || !sameLinks(got.Links, lp.Links) {
			t.Errorf("after restart program %s is %+v, want %+v adopted", name, got, lp)
		}
	}
}

// TestApplicationAddRemoveNoGap replaces an application's revision by one
// that adds tc_egress and drops count_openat, while pings flood the
// interface: tc_ingress, kept, moves in place (same link) and counts
// every packet the interface received across the swap; tc_egress runs in
// the new revision; count_openat's link is gone with the old revision.
func TestApplicationAddRemoveNoGap(t *testing.T) {
	m, root := setup(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	if !tcxHere(t, m, root, sharedEvents(app("r1", host, "tc_ingress", "count_openat"))) {
		return
	}
	old := apply(t, m, sharedEvents(app("r1", host, "tc_ingress", "count_openat")))
	time.Sleep(100 * time.Millisecond)
	events := openMap(t, old.Maps["events"])
	start, rx0 := slot(t, events, slotIngress), testkernel.RxPackets(t, host)

	flood := exec.Command("ip", "netns", "exec", ns, "ping", "-q", "-i", "0.0002", hostIP)
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	cur := apply(t, m, sharedEvents(app("r2", host, "tc_ingress", "tc_egress")))
	time.Sleep(200 * time.Millisecond)
	_ = flood.Process.Kill()
	_ = flood.Wait()
	time.Sleep(300 * time.Millisecond)

	if cur.Programs["tc_ingress"].Links[host].ID != old.Programs["tc_ingress"].Links[host].ID {
		t.Errorf("tc_ingress link %d -> %d, want moved in place", old.Programs["tc_ingress"].Links[host].ID, cur.Programs["tc_ingress"].Links[host].ID)
	}
	received, counted := testkernel.RxPackets(t, host)-rx0, slot(t, events, slotIngress)-start
	t.Logf("%d packets received, %d counted across the swap", received, counted)
	if received < 300 {
		t.Fatalf("only %d packets crossed the veth; the test needs traffic", received)
	}
	if counted != received {
		t.Fatalf("tc_ingress counted %d packets, the interface received %d: the hook was empty or doubled", counted, received)
	}
	if slot(t, events, slotEgress) == 0 {
		t.Error("the added tc_egress counted no reply")
	}
	if _, ok := cur.Programs["count_openat"]; ok {
		t.Errorf("count_openat still in %+v", cur)
	}
	if err := eventuallyGone(linkExists, old.Programs["count_openat"].Links["main"].ID); err != nil {
		t.Errorf("the removed program's link: %v, want detached", err)
	}
	assertNotExist(t, filepath.Join(root, "uid-app", "r1"))
}

// sharedEvents makes p count in one events map shared by its revisions,
// so that no event counted by the old revision during the swap is lost
// (its own events map, unchanged, would be one map as well: see reuse).
func sharedEvents(p programs.Program) programs.Program {
	p.Maps = map[string]programs.MapConfig{"events": {Shared: "app-events"}}
	return p
}

func slot(t *testing.T, m *ebpf.Map, key uint32) uint64 {
	t.Helper()
	var n uint64
	if err := m.Lookup(key, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func sameLinks(a, b map[string]programs.LinkInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for k, l := range a {
		if b[k].ID != l.ID {
			return false
		}
	}
	return true
}
