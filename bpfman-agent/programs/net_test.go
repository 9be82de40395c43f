package programs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// xdpCounter is the XDP counter on ifaces in generic mode; dropICMP
// selects the build.
func xdpCounter(rev string, dropICMP bool, ifaces ...string) programs.Program {
	targets := map[string]attach.Spec{}
	for _, i := range ifaces {
		targets[i] = attach.XDP{Interface: i, Mode: attach.XDPGeneric}
	}
	drop := "0"
	if dropICMP {
		drop = "1"
	}
	return programs.Program{UID: "uid-xdp", Revision: programs.ParseRevision(rev), Object: bpf.XDPCounter,
		GlobalData: map[string]string{"drop_icmp": drop}, Programs: one("xdp_count", rev, targets)}
}

// tcxCounter is the TCX counter on the ingress of ifaces.
func tcxCounter(rev string, ifaces ...string) programs.Program {
	targets := map[string]attach.Spec{}
	for _, i := range ifaces {
		targets[i] = attach.TCX{Interface: i, Direction: attach.Ingress}
	}
	return programs.Program{UID: "uid-tcx", Revision: programs.ParseRevision(rev), Object: bpf.TCCounter,
		Programs: one("tc_count", rev, targets)}
}

// TestXDPSwapInPlace replaces a passing XDP program by one that drops
// ICMP: the link stays (same ID, moved with link.Update) and runs the new
// program, and the old revision is gone.
func TestXDPSwapInPlace(t *testing.T) {
	m, root := setup(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	pass := apply(t, m, xdpCounter("r1", false, host))
	if d := sole(pass).Links[host].Detail; d != "mode=generic" {
		t.Errorf("detail %q, want mode=generic", d)
	}
	if got := testkernel.Ping(t, ns, hostIP, 3); got != 3 {
		t.Fatalf("%d of 3 pings answered", got)
	}
	if n := testkernel.MapValue(t, pass.Maps["packets"], uint32(0)); n < 3 {
		t.Fatalf("counted %d packets", n)
	}
	drop := apply(t, m, xdpCounter("r2", true, host))
	if sole(drop).Links[host].ID != sole(pass).Links[host].ID || sole(drop).ID == sole(pass).ID {
		t.Fatalf("swap: link %d -> %d, program %d -> %d; want the same link running a new program",
			sole(pass).Links[host].ID, sole(drop).Links[host].ID, sole(pass).ID, sole(drop).ID)
	}
	if got := testkernel.Ping(t, ns, hostIP, 2); got != 0 {
		t.Fatalf("%d pings answered through the dropping revision", got)
	}
	assertNotExist(t, filepath.Join(root, "uid-xdp", "r1"))
	if err := eventuallyGone(programExists, sole(pass).ID); err != nil {
		t.Fatalf("old program %d: %v, want unloaded", sole(pass).ID, err)
	}
}

// TestTargetsComeAndGo adds and removes targets of a running revision
// without reloading it, and adopts it after a restart.
func TestTargetsComeAndGo(t *testing.T) {
	m, root := setup(t)
	a, _, _, _ := testkernel.VethPair(t)
	b, _, _, _ := testkernel.VethPair(t)
	if !tcxHere(t, m, root, tcxCounter("r1", a)) {
		return
	}
	first := apply(t, m, tcxCounter("r1", a))
	both := apply(t, m, tcxCounter("r1", a, b))
	if !both.Adopted || sole(both).ID != sole(first).ID || sole(both).Links[a] != sole(first).Links[a] || sole(both).Links[b].ID == 0 {
		t.Fatalf("adding %s: %+v, want %+v plus a link on %s", b, both, first, b)
	}
	restarted := apply(t, newManager(t, root), tcxCounter("r1", a, b))
	if sole(restarted).Links[a].ID != sole(both).Links[a].ID || sole(restarted).Links[b].ID != sole(both).Links[b].ID {
		t.Fatalf("after restart links %v, want %v", sole(restarted).Links, sole(both).Links)
	}
	if want := "ingress position 1 of 1"; sole(restarted).Links[b].Detail != want {
		t.Errorf("adopted detail %q, want %q", sole(restarted).Links[b].Detail, want)
	}
	onlyB := apply(t, m, tcxCounter("r1", b))
	if _, ok := sole(onlyB).Links[a]; ok || sole(onlyB).Links[b] != sole(both).Links[b] {
		t.Fatalf("removing %s: links %v", a, sole(onlyB).Links)
	}
	if err := eventuallyGone(linkExists, sole(both).Links[a].ID); err != nil {
		t.Fatalf("link on %s: %v, want detached", a, err)
	}
	if order, _ := attach.TCXOrder(a, attach.Ingress); len(order) != 0 {
		t.Fatalf("%s ingress still runs %v", a, order)
	}
}

// TestInterfaceRecreated deletes an interface a link is adopted on and
// makes a new one of the same name: the next Apply drops the dead link
// and attaches to the new interface.
func TestInterfaceRecreated(t *testing.T) {
	for name, prog := range map[string]func(string) programs.Program{
		"xdp": func(iface string) programs.Program { return xdpCounter("r1", false, iface) },
		"tcx": func(iface string) programs.Program { return tcxCounter("r1", iface) },
	} {
		t.Run(name, func(t *testing.T) {
			m, root := setup(t)
			iface := localVeth(t)
			if name == "tcx" && !tcxHere(t, m, root, prog(iface)) {
				return
			}
			before := apply(t, m, prog(iface))
			run(t, "ip", "link", "del", iface)
			installed, err := m.Installed()
			if err != nil || len(installed) != 1 || len(sole(installed[0]).Links) != 0 {
				t.Fatalf("Installed() = %+v, %v; want no live link", installed, err)
			}
			if _, err := m.Apply(t.Context(), prog(iface)); programs.Reason(err) != programs.ReasonAttachFailed {
				t.Fatalf("apply on a missing interface: %v, want AttachFailed", err)
			}
			addVeth(t, iface)
			after := apply(t, m, prog(iface))
			if !after.Adopted || sole(after).ID != sole(before).ID || sole(after).Links[iface].ID == sole(before).Links[iface].ID {
				t.Fatalf("after re-creating %s: %+v, want a new link for %+v", iface, after, before)
			}
		})
	}
}

// TestSwapRollsBack fails a swap halfway (the second target is missing):
// the first target, already moved in place, goes back to the old program.
func TestSwapRollsBack(t *testing.T) {
	m, root := setup(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	running := apply(t, m, xdpCounter("r1", false, host))
	bad := xdpCounter("r2", true, host, "zzz-missing")
	if _, err := m.Apply(t.Context(), bad); programs.Reason(err) != programs.ReasonAttachFailed {
		t.Fatalf("apply: %v, want AttachFailed", err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "uid-xdp"))
	if len(entries) != 1 || entries[0].Name() != "r1" {
		t.Fatalf("uid-xdp holds %v, want only r1", entries)
	}
	if got := testkernel.Ping(t, ns, hostIP, 2); got != 2 {
		t.Fatalf("%d of 2 pings answered: the dropping program still runs", got)
	}
	again := apply(t, m, xdpCounter("r1", false, host))
	if !again.Adopted || sole(again).Links[host] != sole(running).Links[host] {
		t.Fatalf("after rollback %+v, want %+v adopted", again, running)
	}
}

// localVeth creates a veth pair in this namespace (no iface module here)
// and returns one end; deleting it deletes both. t's cleanup does.
func localVeth(t *testing.T) string {
	t.Helper()
	name := "bpfd" + strconv.Itoa(os.Getpid()%100000)
	addVeth(t, name)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
	return name
}

func addVeth(t *testing.T, name string) {
	t.Helper()
	run(t, "ip", "link", "add", name, "type", "veth", "peer", "name", name+"p")
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// openMap opens the map with kernel ID id until the end of t.
func openMap(t *testing.T, id uint32) *ebpf.Map {
	t.Helper()
	mp, err := ebpf.NewMapFromID(ebpf.MapID(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mp.Close() })
	return mp
}

// TestHookChangeMakesNewLinks changes the hook settings (the revision's
// hook part): TCX gets a new link, attached before the old one goes; XDP,
// whose hook holds one link, has the old link replaced by one in the new
// mode.
func TestHookChangeMakesNewLinks(t *testing.T) {
	m, root := setup(t)
	host, _, _, _ := testkernel.VethPair(t)
	if tcxHere(t, m, root, tcxCounter("r1-aaaa", host)) {
		tcxHookChange(t, m, host)
	}
	x1 := apply(t, m, xdpCounter("r1-aaaa", false, host))
	native := xdpCounter("r2-cccc", false, host)
	native.Programs[0].Attach[host] = attach.XDP{Interface: host, Mode: attach.XDPAuto}
	x2 := apply(t, m, native)
	if sole(x2).Links[host].ID == sole(x1).Links[host].ID || sole(x2).Links[host].Detail == sole(x1).Links[host].Detail {
		t.Fatalf("XDP mode change: link %d %q -> %d %q; want a new link in the new mode",
			sole(x1).Links[host].ID, sole(x1).Links[host].Detail, sole(x2).Links[host].ID, sole(x2).Links[host].Detail)
	}
}

// tcxHookChange moves a TCX program first on host's ingress: a new link,
// attached before the old one goes.
func tcxHookChange(t *testing.T, m *programs.Manager, host string) {
	first := apply(t, m, tcxCounter("r1-aaaa", host))
	moved := tcxCounter("r2-bbbb", host)
	moved.Programs[0].Attach[host] = attach.TCX{Interface: host, Direction: attach.Ingress, Anchor: attach.Order{First: true}}
	second := apply(t, m, moved)
	if sole(second).Links[host].ID == sole(first).Links[host].ID {
		t.Fatalf("TCX order changed but link %d was updated in place", sole(first).Links[host].ID)
	}
	// The kernel releases an unpinned link asynchronously: allow it a moment.
	var order []uint32
	for range 100 {
		if order, _ = attach.TCXOrder(host, attach.Ingress); len(order) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(order) != 1 || order[0] != sole(second).Links[host].ID {
		t.Fatalf("ingress links %v, want only the new link %d", order, sole(second).Links[host].ID)
	}
}
