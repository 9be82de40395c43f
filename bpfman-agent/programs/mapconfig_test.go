package programs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

const shared = "counts-shared"

// sharedCounter is the counter of uid with its counts map shared.
func sharedCounter(uid string) programs.Program {
	p := counter(uid, "r1")
	p.Maps = map[string]programs.MapConfig{"counts": {Shared: shared}}
	return p
}

// TestMaxEntries resizes a map at load; a new size is a new revision,
// which replaces the running one without an empty hook.
func TestMaxEntries(t *testing.T) {
	m, _ := setup(t)
	p := counter("uid-a", "r1")
	p.Maps = map[string]programs.MapConfig{"counts": {MaxEntries: 2048}, "total": {}}
	first := apply(t, m, p)
	assertMaxEntries(t, first, "counts", 2048)
	assertMaxEntries(t, first, "total", 1)

	p.Revision, p.Maps["counts"] = programs.Revision{Code: "r2"}, programs.MapConfig{MaxEntries: 4096}
	second := apply(t, m, p)
	assertMaxEntries(t, second, "counts", 4096)
	if sole(second).ID == sole(first).ID || sole(second).Links["main"].ID == sole(first).Links["main"].ID {
		t.Fatalf("resize reused program or link: %+v -> %+v", first, second)
	}
	assertGone(t, first)
	testkernel.OpenFiles(t, 3)
	if got := testkernel.MapValue(t, second.Maps["counts"], uint32(os.Getpid())); got < 3 {
		t.Errorf("resized revision counted %d opens of 3", got)
	}
}

// TestMaxEntriesXDPInPlace resizes the XDP counter's map: the link moves
// to the new program in place.
func TestMaxEntriesXDPInPlace(t *testing.T) {
	m, _ := setup(t)
	host, ns, hostIP, _ := testkernel.VethPair(t)
	p := xdpCounter("r1", false, host)
	p.Maps = map[string]programs.MapConfig{"packets": {MaxEntries: 4}}
	first := apply(t, m, p)
	p.Revision, p.Maps["packets"] = programs.Revision{Code: "r2"}, programs.MapConfig{MaxEntries: 8}
	second := apply(t, m, p)
	assertMaxEntries(t, second, "packets", 8)
	if sole(second).Links[host].ID != sole(first).Links[host].ID || sole(second).ID == sole(first).ID {
		t.Fatalf("resize: link %d -> %d, program %d -> %d; want the link moved in place",
			sole(first).Links[host].ID, sole(second).Links[host].ID, sole(first).ID, sole(second).ID)
	}
	if got := testkernel.Ping(t, ns, hostIP, 2); got != 2 || testkernel.MapValue(t, second.Maps["packets"], uint32(0)) < 2 {
		t.Fatalf("%d of 2 pings answered, or not counted by the resized revision", got)
	}
}

// TestSharedMap loads the counter twice with counts shared: both count
// into one map, which outlives the first program and goes with the last.
func TestSharedMap(t *testing.T) {
	m, root := setup(t)
	a, b := apply(t, m, sharedCounter("uid-a")), apply(t, m, sharedCounter("uid-b"))
	id := a.Maps["counts"]
	if b.Maps["counts"] != id || a.Maps["total"] == b.Maps["total"] {
		t.Fatalf("maps of a %v and b %v: want counts shared, total not", a.Maps, b.Maps)
	}
	if a.Shared["counts"] != shared || b.Shared["counts"] != shared || len(b.Shared) != 1 {
		t.Fatalf("Shared = %v and %v, want counts: %s", a.Shared, b.Shared, shared)
	}
	put(t, m.Map, "uid-a", "counts", 4242, 17)
	if got := testkernel.MapValue(t, b.Maps["counts"], uint32(4242)); got != 17 {
		t.Fatalf("b reads %d, a wrote 17", got)
	}
	before := testkernel.MapValue(t, id, uint32(os.Getpid()))
	testkernel.OpenFiles(t, 5)
	if got := testkernel.MapValue(t, id, uint32(os.Getpid())) - before; got < 10 {
		t.Errorf("both programs counted %d into the shared map for 5 opens, want 10", got)
	}

	if err := m.Remove("uid-a"); err != nil {
		t.Fatal(err)
	}
	assertGone(t, a)
	if got := testkernel.MapValue(t, mapIDOf(t, m.SharedMap, shared), uint32(4242)); got != 17 {
		t.Fatalf("after removing a, the shared map holds %d, want 17", got)
	}
	installed, err := newManager(t, root).Installed()
	if err != nil || len(installed) != 1 || installed[0].Shared["counts"] != shared {
		t.Fatalf("Installed() = %+v, %v; want uid-b sharing counts", installed, err)
	}

	if err := m.Remove("uid-b"); err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, root)
	if err := eventuallyGone(mapExists, id); err != nil {
		t.Fatalf("shared map %d: %v, want freed", id, err)
	}
	if _, err := m.SharedMap(shared); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SharedMap after the last user: %v, want not exist", err)
	}
}

// TestUnsharedMapIsOwn applies a revision that no longer shares counts:
// it gets a map of its own, not the shared map its running revision used,
// holding that map's entries; Installed no longer calls it shared, and
// Prune unpins the shared map no program uses any more.
func TestUnsharedMapIsOwn(t *testing.T) {
	m, root := setup(t)
	p := sharedCounter("uid-a")
	first := apply(t, m, p)
	put(t, m.Map, "uid-a", "counts", 4242, 17)

	p.Revision, p.Maps = programs.Revision{Code: "r2"}, nil
	second := apply(t, m, p)
	if second.Maps["counts"] == first.Maps["counts"] || len(second.Shared) != 0 {
		t.Fatalf("counts: map %d, shared %v; want a map of its own, not the shared %d", second.Maps["counts"], second.Shared, first.Maps["counts"])
	}
	if got := testkernel.MapValue(t, second.Maps["counts"], uint32(4242)); got != 17 {
		t.Fatalf("the new revision's counts holds %d, want 17 carried from the shared map", got)
	}
	installed, err := newManager(t, root).Installed()
	if err != nil || len(installed) != 1 || len(installed[0].Shared) != 0 {
		t.Fatalf("Installed() = %+v, %v; want uid-a sharing nothing", installed, err)
	}
	if err := m.Prune(map[string]bool{"uid-a": true}); err != nil {
		t.Fatal(err)
	}
	assertNotExist(t, filepath.Join(root, "shared", shared))
}

// TestPruneKeepsSharedInUse prunes the programs one by one: the shared
// map stays while a kept program uses it.
func TestPruneKeepsSharedInUse(t *testing.T) {
	m, root := setup(t)
	apply(t, m, sharedCounter("uid-a"))
	b := apply(t, m, sharedCounter("uid-b"))
	if err := m.Prune(map[string]bool{"uid-b": true}); err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join(root, "shared", shared)
	if _, err := os.Stat(pin); err != nil {
		t.Fatalf("shared pin pruned while uid-b uses it: %v", err)
	}
	again := apply(t, newManager(t, root), sharedCounter("uid-b"))
	if !again.Adopted || again.Maps["counts"] != b.Maps["counts"] || again.Shared["counts"] != shared {
		t.Fatalf("adopted %+v, want %+v", again, b)
	}
	if err := m.Prune(nil); err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, root)
	if err := eventuallyGone(mapExists, b.Maps["counts"]); err != nil {
		t.Fatalf("shared map: %v, want freed", err)
	}
}

// TestSharedMapIncompatible loads programs whose map differs from the
// shared one: each fails with MapIncompatible, loading nothing.
func TestSharedMapIncompatible(t *testing.T) {
	m, root := setup(t)
	a := apply(t, m, sharedCounter("uid-a"))
	bigger := sharedCounter("uid-b")
	bigger.Maps["counts"] = programs.MapConfig{Shared: shared, MaxEntries: 100}
	perr := applyErr(t, m, bigger, programs.ReasonMapIncompatible)
	assertMentions(t, perr, shared, "another program", "max_entries 10240", "max_entries 100")
	t.Log(perr)

	// Another object's map of the same name, with 4-byte values.
	other := filepath.Join(root, "shared", "other")
	pinMap(t, other, &ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 10240})
	narrow := counter("uid-c", "r1")
	narrow.Maps = map[string]programs.MapConfig{"counts": {Shared: "other"}}
	perr = applyErr(t, m, narrow, programs.ReasonMapIncompatible)
	assertMentions(t, perr, "value 4 bytes", "value 8 bytes")
	if !programs.Terminal(perr) {
		t.Errorf("MapIncompatible is not terminal")
	}
	for _, uid := range []string{"uid-b", "uid-c"} {
		assertNotExist(t, filepath.Join(root, uid))
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("the other program's shared map was unpinned: %v", err)
	}
	assertAlive(t, a)
}

// TestSharedMapUndoneOnFailure fails an install after it created a
// shared map: the map is unpinned with the rest.
func TestSharedMapUndoneOnFailure(t *testing.T) {
	m, root := setup(t)
	p := sharedCounter("uid-a")
	p.Programs[0].Attach = map[string]attach.Spec{"main": attach.Tracepoint{Group: "syscalls", Name: "sys_enter_no_such_call"}}
	applyErr(t, m, p, programs.ReasonAttachFailed)
	assertNotExist(t, filepath.Join(root, "shared"))
	assertEmptyDir(t, filepath.Join(root, "uid-a"))
}

func TestMapConfigErrors(t *testing.T) {
	m, root := setup(t)
	for name, tc := range map[string]struct {
		maps   map[string]programs.MapConfig
		reason string
	}{
		"unused map":   {map[string]programs.MapConfig{"packets": {MaxEntries: 8}}, programs.ReasonMapIncompatible},
		"data section": {map[string]programs.MapConfig{".rodata": {Shared: "ro"}}, programs.ReasonMapIncompatible},
		"zero entries": {map[string]programs.MapConfig{"counts": {Shared: "x", MaxEntries: 0}, "total": {MaxEntries: 0}}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			p := counter("uid-e", "r1")
			p.Maps = tc.maps
			if tc.reason == "" {
				apply(t, m, p)
				if err := m.Remove("uid-e"); err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Log(applyErr(t, m, p, tc.reason))
		})
	}
	badShared := counter("uid-x", "r1")
	badShared.Maps = map[string]programs.MapConfig{"counts": {Shared: "../x"}}
	for _, p := range []programs.Program{counter("shared", "r1"), badShared} {
		if _, err := m.Apply(t.Context(), p); err == nil || programs.Reason(err) != "" {
			t.Errorf("Apply(%s, %v) = %v, want an invalid name", p.UID, p.Maps, err)
		}
	}
	assertEmptyDir(t, root)
	if _, err := m.Map("uid-e", "counts"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Map of a removed program: %v, want not exist", err)
	}
}

func assertMaxEntries(t *testing.T, ld programs.Loaded, name string, want uint32) {
	t.Helper()
	if got := openMap(t, ld.Maps[name]).MaxEntries(); got != want {
		t.Fatalf("map %s has max_entries %d, want %d", name, got, want)
	}
}

func assertMentions(t *testing.T, err error, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func mapIDOf(t *testing.T, open func(string) (*ebpf.Map, error), name string) uint32 {
	t.Helper()
	mp, err := open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	info, err := mp.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return uint32(id)
}

// put writes key and value into a map opened by open.
func put(t *testing.T, open func(uid, name string) (*ebpf.Map, error), uid, name string, key uint32, value uint64) {
	t.Helper()
	mp, err := open(uid, name)
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	if err := mp.Put(key, value); err != nil {
		t.Fatal(err)
	}
}

func pinMap(t *testing.T, path string, spec *ebpf.MapSpec) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	mp, err := ebpf.NewMap(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Close()
	if err := mp.Pin(path); err != nil {
		t.Fatal(err)
	}
}

func mapExists(id uint32) error {
	mp, err := ebpf.NewMapFromID(ebpf.MapID(id))
	if err == nil {
		mp.Close()
	}
	return err
}
