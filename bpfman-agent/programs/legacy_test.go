package programs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// pinLegacy pins p, a single program kind, under root as agents before
// applications did: <uid>/<revision>/prog, links/<target>, maps/<name>.
func pinLegacy(t *testing.T, root string, p programs.Program) pins.Dir {
	t.Helper()
	dir := pins.Layout{Root: root}.Revision(p.UID, p.Revision.String())
	ld, err := loader.New()
	if err != nil {
		t.Fatal(err)
	}
	a := p.Programs[0]
	objs, err := ld.Load(p.Object, a.Name, p.GlobalData)
	if err != nil {
		t.Fatal(err)
	}
	defer objs.Close()
	for _, d := range []string{dir.Maps(), dir.Links()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, mp := range objs.Maps {
		if err := mp.Pin(dir.Map(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := objs.Program.Pin(dir.LegacyProg()); err != nil {
		t.Fatal(err)
	}
	for target, spec := range a.Attach {
		l, err := spec.Attach(objs.Program)
		if err != nil {
			t.Fatal(err)
		}
		pinLink(t, l.Link, dir.LegacyLink(target))
		l.Link.Close()
	}
	return dir
}

// An agent upgraded over the pins of an agent before applications sees
// the running program (Installed), then takes its revision over with no
// gap: the TCX link moves in place to the program loaded anew (same link
// ID), the tracepoint gets its new link before the old one goes; nothing
// of the old layout is left.
func TestUpgradeFromLegacyPins(t *testing.T) {
	m, root := setup(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	tcx, tp := tcxCounter("r1-aaaa", host), counter("uid-a", "r1")
	if !tcxHere(t, m, root, tcx) {
		return
	}
	pinLegacy(t, root, tcx)
	pinLegacy(t, root, tp)
	legacy := map[string]programs.Loaded{}
	installed, err := m.Installed()
	if err != nil {
		t.Fatal(err)
	}
	for _, ld := range installed {
		legacy[ld.UID] = ld
	}
	oldTCX, oldTP := legacy["uid-tcx"].Programs[""], legacy["uid-a"].Programs[""]
	if oldTCX.Links[host].ID == 0 || oldTP.Links["main"].ID == 0 {
		t.Fatalf("Installed() = %+v, want the legacy programs with their live links", installed)
	}

	got := apply(t, m, tcx)
	if sole(got).Links[host].ID != oldTCX.Links[host].ID || sole(got).ID == oldTCX.ID {
		t.Fatalf("TCX after upgrade %+v, want link %d moved in place from program %d", got, oldTCX.Links[host].ID, oldTCX.ID)
	}
	if n := testkernel.Ping(t, ns, hostIP, 2); n != 2 {
		t.Fatalf("%d of 2 pings answered", n)
	}
	if n := testkernel.MapValue(t, got.Maps["packets"], uint32(0)); n < 2 {
		t.Errorf("the upgraded TCX program counted %d packets", n)
	}
	gotTP := apply(t, m, tp)
	if sole(gotTP).Links["main"].ID == oldTP.Links["main"].ID {
		t.Fatalf("tracepoint after upgrade %+v: want a new link", gotTP)
	}
	for _, id := range []uint32{oldTP.Links["main"].ID} {
		if err := eventuallyGone(linkExists, id); err != nil {
			t.Errorf("legacy tracepoint link %d: %v, want detached", id, err)
		}
	}
	for _, uid := range []string{"uid-tcx", "uid-a"} {
		entries, _ := os.ReadDir(filepath.Join(root, uid))
		if len(entries) != 1 {
			t.Errorf("%s holds %v, want one revision", uid, entries)
		}
		assertNotExist(t, filepath.Join(root, uid, entries[0].Name(), "prog"))
	}
	again := apply(t, newManager(t, root), tcx)
	if !again.Adopted || sole(again).ID != sole(got).ID {
		t.Errorf("after restart %+v, want %+v adopted", again, got)
	}
}
