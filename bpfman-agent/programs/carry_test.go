package programs_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// carried is how many entries the tests put in a map before an update.
const carried = 1000

// TestUpdateReusesMaps fills the counter's hash map, then applies a new
// revision with other globalData: its maps are the running revision's,
// the same kernel maps (a reader holding one follows the program), used
// by the program the link runs right after Apply, with every entry; its
// .rodata is new, with the new constant.
func TestUpdateReusesMaps(t *testing.T) {
	m, _ := setup(t)
	p := counter("uid-reuse", "r1")
	first := apply(t, m, p)
	fill(t, first.Maps["counts"], carried)

	p.Revision, p.GlobalData["increment"] = programs.Revision{Code: "r2"}, "2"
	second := apply(t, m, p)
	if sole(second).ID == sole(first).ID {
		t.Fatal("a new globalData did not load a new program")
	}
	for _, name := range []string{"counts", "total"} {
		if second.Maps[name] != first.Maps[name] {
			t.Errorf("map %s: ID %d, want the running revision's %d", name, second.Maps[name], first.Maps[name])
		}
	}
	counts := linkedMap(t, sole(second).Links["main"].ID, "counts")
	if id := mapIDOfMap(t, counts); id != first.Maps["counts"] {
		t.Fatalf("the linked program uses counts %d, want the running revision's %d", id, first.Maps["counts"])
	}
	assertEntries(t, counts, carried)
	if second.Maps[".rodata"] == first.Maps[".rodata"] {
		t.Error("a new globalData kept the running revision's .rodata")
	}
	if got := rodata(t, second.Maps[".rodata"], "increment"); got != 2 {
		t.Errorf("new revision's increment = %d, want 2: a data section was carried over", got)
	}
}

// TestNewMaxEntriesCarries applies a revision that grows the counter's
// hash map: a new map (a new ID) holding the running one's entries, which
// the linked program uses; the array, unchanged, is the running one.
func TestNewMaxEntriesCarries(t *testing.T) {
	m, _ := setup(t)
	p := counter("uid-grow", "r1")
	first := apply(t, m, p)
	fill(t, first.Maps["counts"], carried)

	p.Revision, p.Maps = programs.Revision{Code: "r2"}, map[string]programs.MapConfig{"counts": {MaxEntries: 2 * carried}}
	second := apply(t, m, p)
	counts := linkedMap(t, sole(second).Links["main"].ID, "counts")
	if id := mapIDOfMap(t, counts); id == first.Maps["counts"] || id != second.Maps["counts"] {
		t.Fatalf("resized counts: the linked program uses map %d, want a new one (not %d)", id, first.Maps["counts"])
	}
	assertEntries(t, counts, carried)
	if second.Maps["total"] != first.Maps["total"] {
		t.Errorf("map total: ID %d, want the running revision's %d", second.Maps["total"], first.Maps["total"])
	}
}

// TestUpdateRefusedWhenEntriesDoNotFit applies a revision whose map is
// smaller than the entries the running one holds: Apply fails with
// MapFull, and the running program, link and map are untouched, with no
// staging pins left.
func TestUpdateRefusedWhenEntriesDoNotFit(t *testing.T) {
	m, root := setup(t)
	p := counter("uid-full", "r1")
	first := apply(t, m, p)
	fill(t, first.Maps["counts"], carried)

	p.Revision, p.Maps = programs.Revision{Code: "r2"}, map[string]programs.MapConfig{"counts": {MaxEntries: 500}}
	err := applyErr(t, m, p, programs.ReasonMapFull)
	if programs.Terminal(err) {
		t.Error("MapFull is terminal; entries may go, it must be retried")
	}
	for _, want := range []string{`map "counts" holds 1,00`, "maxEntries is 500", "revision r1 keeps running"} {
		if !strings.Contains(err.Message, want) {
			t.Errorf("message %q does not say %q", err.Message, want)
		}
	}
	assertStillRunning(t, m, first)
	assertEntries(t, openMap(t, first.Maps["counts"]), carried)
	assertNoStaging(t, root)
}

// TestUpdateCarriesArrays grows an array (a new map, the entries
// carried), then shrinks it below a non-zero index, which is refused.
func TestUpdateCarriesArrays(t *testing.T) {
	m, root := setup(t)
	p := counter("uid-array", "r1")
	p.Maps = map[string]programs.MapConfig{"total": {MaxEntries: 4}}
	first := apply(t, m, p)
	total := openMap(t, first.Maps["total"])
	if err := total.Put(uint32(3), uint64(7)); err != nil {
		t.Fatal(err)
	}

	p.Revision, p.Maps["total"] = programs.Revision{Code: "r2"}, programs.MapConfig{MaxEntries: 8}
	second := apply(t, m, p)
	if second.Maps["total"] == first.Maps["total"] || second.Maps["counts"] != first.Maps["counts"] {
		t.Fatalf("maps %v -> %v: want total new (grown), counts the same", first.Maps, second.Maps)
	}
	var got uint64
	if err := linkedMap(t, sole(second).Links["main"].ID, "total").Lookup(uint32(3), &got); err != nil || got != 7 {
		t.Fatalf("grown array's index 3 = %d, %v; want 7", got, err)
	}

	p.Revision, p.Maps["total"] = programs.Revision{Code: "r3"}, programs.MapConfig{MaxEntries: 2}
	err := applyErr(t, m, p, programs.ReasonMapFull)
	if !strings.Contains(err.Message, "1 non-zero entries at indexes 2 and above") {
		t.Errorf("message %q does not name the entries beyond the new size", err.Message)
	}
	assertStillRunning(t, m, second)
	assertNoStaging(t, root)
}

// TestUpdateKeepsRingBuffer updates the flow meter's flow_ingress (a new
// sampling) while a reader holds its ring buffer new_flows: the new
// revision uses that ring buffer, same ID, and the reader receives the
// flows the new program announces.
func TestUpdateKeepsRingBuffer(t *testing.T) {
	m, root := setup(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	p := flowmeter("r1", host)
	if !tcxHere(t, m, root, p) {
		return
	}
	first := apply(t, m, p)
	ring, err := ringbuf.NewReader(openMap(t, first.Maps["new_flows"]))
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()

	p.Revision, p.GlobalData = programs.Revision{Code: "r2"}, map[string]string{"sampling": "1"}
	second := apply(t, m, p)
	for _, name := range []string{"new_flows", "flows", "stats"} {
		if second.Maps[name] != first.Maps[name] {
			t.Errorf("map %s: ID %d, want the running revision's %d", name, second.Maps[name], first.Maps[name])
		}
	}
	drain(t, ring)
	testkernel.Ping(t, ns, hostIP, 1)
	ring.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := ring.Read(); err != nil {
		t.Fatalf("no new flow read from the ring buffer held across the update: %v", err)
	}
}

// flowmeter is the flow meter's flow_ingress on iface.
func flowmeter(rev, iface string) programs.Program {
	return programs.Program{UID: "uid-flowmeter", Revision: programs.ParseRevision(rev), Object: bpf.Flowmeter,
		Programs: []programs.Attachment{{Name: "flow_ingress",
			Attach: map[string]attach.Spec{iface: attach.TCX{Interface: iface, Direction: attach.Ingress}}}}}
}

// drain reads the records ring holds now, and drops them.
func drain(t *testing.T, ring *ringbuf.Reader) {
	t.Helper()
	ring.SetDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		_, err := ring.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// fill puts n entries, keys 1,000,000 + i (no process of the test), into
// the hash map of that ID.
func fill(t *testing.T, id uint32, n int) {
	t.Helper()
	mp := openMap(t, id)
	for i := range n {
		if err := mp.Put(uint32(1_000_000+i), uint64(i+1)); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
}

// assertEntries checks that mp holds the n entries fill put.
func assertEntries(t *testing.T, mp *ebpf.Map, n int) {
	t.Helper()
	for i := range n {
		var v uint64
		if err := mp.Lookup(uint32(1_000_000+i), &v); err != nil || v != uint64(i+1) {
			t.Fatalf("entry %d = %d, %v; want %d", i, v, err, i+1)
		}
	}
}

// linkedMap opens the map called name of the program link id runs, as
// bpftool would find it.
func linkedMap(t *testing.T, id uint32, name string) *ebpf.Map {
	t.Helper()
	l, err := link.NewFromID(link.ID(id))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	li, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	prog, err := ebpf.NewProgramFromID(li.Program)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	pi, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := pi.MapIDs()
	for _, mid := range ids {
		mp := openMap(t, uint32(mid))
		if mi, err := mp.Info(); err == nil && mi.Name == name {
			return mp
		}
	}
	t.Fatalf("the program of link %d has no map %s", id, name)
	return nil
}

// mapIDOfMap is mp's kernel ID.
func mapIDOfMap(t *testing.T, mp *ebpf.Map) uint32 {
	t.Helper()
	info, err := mp.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return uint32(id)
}

// rodata reads the __u64 constant name from the .rodata map of that ID.
func rodata(t *testing.T, id uint32, name string) uint64 {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.TracepointCounter))
	if err != nil {
		t.Fatal(err)
	}
	v := spec.Variables[name]
	mp := openMap(t, id)
	buf := make([]byte, mp.ValueSize())
	if err := mp.Lookup(uint32(0), &buf); err != nil {
		t.Fatal(err)
	}
	return binary.NativeEndian.Uint64(buf[v.Offset:])
}

// assertStillRunning checks that the only revision installed is running,
// with its program, link and maps.
func assertStillRunning(t *testing.T, m *programs.Manager, running programs.Loaded) {
	t.Helper()
	installed, err := m.Installed()
	if err != nil || len(installed) != 1 {
		t.Fatalf("installed = %+v, %v; want the running revision alone", installed, err)
	}
	got := installed[0]
	if got.Revision != running.Revision || sole(got).ID != sole(running).ID || sole(got).Links["main"].ID != sole(running).Links["main"].ID {
		t.Fatalf("after a held update: %+v, want %+v running", got, running)
	}
	for name, id := range running.Maps {
		if got.Maps[name] != id {
			t.Errorf("map %s: ID %d, want %d", name, got.Maps[name], id)
		}
	}
	assertAlive(t, running)
}

// assertNoStaging checks that no staging directory is left under root.
func assertNoStaging(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "~staging") {
			t.Errorf("staging pins left: %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
