package programs_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
)

// pinnedCounter is libbpf_pinned.o, whose map pinned_calls the object
// pins by name (LIBBPF_PIN_BY_NAME).
func pinnedCounter(uid, rev string) programs.Program {
	return programs.Program{
		UID:        uid,
		Revision:   programs.ParseRevision(rev),
		Object:     bpf.LibbpfPinned,
		GlobalData: map[string]string{"filter_pid": strconv.Itoa(os.Getpid())},
		Programs:   one("count_pinned", rev, map[string]attach.Spec{"main": openat}),
	}
}

// TestPinByName loads an object that pins a map by name: the map is
// pinned at <root>/<uid>/by-name/<map>, a new revision uses that very
// map with its entries (as it uses the running revision's other map,
// unchanged), another uid gets a map of its own, and the map goes with
// its uid.
func TestPinByName(t *testing.T) {
	m, root := setup(t)
	first := apply(t, m, pinnedCounter("uid-a", "r1"))
	path := filepath.Join(root, "uid-a", "by-name", "pinned_calls")
	if id := pinnedID(t, path); id != first.Maps["pinned_calls"] {
		t.Fatalf("map pinned at %s is %d, the program's is %d", path, id, first.Maps["pinned_calls"])
	}
	// In a subtest: the maps it opens are closed before the uid goes.
	t.Run("new revision", func(t *testing.T) {
		if err := openMap(t, first.Maps["pinned_calls"]).Put(uint32(1_000_000), uint64(7)); err != nil {
			t.Fatal(err)
		}
		p := pinnedCounter("uid-a", "r2")
		p.GlobalData["filter_pid"] = "1"
		second := apply(t, m, p)
		if sole(second).ID == sole(first).ID || second.Maps["pinned_calls"] != first.Maps["pinned_calls"] {
			t.Fatalf("revision r2: program %d map %d; want a new program using map %d", sole(second).ID, second.Maps["pinned_calls"], first.Maps["pinned_calls"])
		}
		if second.Maps["local_calls"] != first.Maps["local_calls"] {
			t.Error("the map not pinned by name, unchanged, is not the running revision's")
		}
		var v uint64
		if err := linkedMap(t, sole(second).Links["main"].ID, "pinned_calls").Lookup(uint32(1_000_000), &v); err != nil || v != 7 {
			t.Fatalf("entry in the new revision's map: %d, %v; want 7", v, err)
		}
	})

	other := apply(t, m, pinnedCounter("uid-b", "r1"))
	if other.Maps["pinned_calls"] == first.Maps["pinned_calls"] {
		t.Fatal("two uids share a map pinned by name")
	}
	if err := m.Remove("uid-a"); err != nil {
		t.Fatal(err)
	}
	assertNotExist(t, path)
	if err := eventuallyGone(mapExists, first.Maps["pinned_calls"]); err != nil {
		t.Fatalf("map %d pinned by name after its uid went: %v", first.Maps["pinned_calls"], err)
	}
	pinnedID(t, filepath.Join(root, "uid-b", "by-name", "pinned_calls"))
}

// TestPinByNameMapPolicyRefused: a MapPolicy that resizes or shares a map
// the object pins by name fails with MapIncompatible, saying why, and
// leaves nothing pinned.
func TestPinByNameMapPolicyRefused(t *testing.T) {
	m, root := setup(t)
	for _, c := range []programs.MapConfig{{MaxEntries: 64}, {Shared: "policy"}} {
		p := pinnedCounter("uid-policy", "r1")
		p.Maps = map[string]programs.MapConfig{"pinned_calls": c}
		err := applyErr(t, m, p, programs.ReasonMapIncompatible)
		if !strings.Contains(err.Message, "pinned by name") || !programs.Terminal(err) {
			t.Errorf("%+v: %v; want a terminal error saying the map is pinned by name", c, err)
		}
	}
	assertNotExist(t, filepath.Join(root, "uid-policy", "by-name"))
	assertNotExist(t, filepath.Join(root, "shared"))
}

// TestPinByNameFailedInstallUnpins: a first install that fails after the
// map was pinned by name (its tracepoint does not exist) unpins it.
func TestPinByNameFailedInstallUnpins(t *testing.T) {
	m, root := setup(t)
	p := pinnedCounter("uid-fail", "r1")
	p.Programs[0].Attach = map[string]attach.Spec{"main": attach.Tracepoint{Group: "syscalls", Name: "sys_enter_bpfleet_none"}}
	if _, err := m.Apply(t.Context(), p); err == nil {
		t.Fatal("attaching to a tracepoint that does not exist succeeded")
	}
	assertNotExist(t, filepath.Join(root, "uid-fail", "by-name"))
}

func pinnedID(t *testing.T, path string) uint32 {
	t.Helper()
	mp, err := ebpf.LoadPinnedMap(path, nil)
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

// TestPinByNameUnpinnedWhenUnused: a revision whose object no longer pins
// the map by name unpins it, so that a later one does not find stale
// entries there.
func TestPinByNameUnpinnedWhenUnused(t *testing.T) {
	m, root := setup(t)
	first := apply(t, m, pinnedCounter("uid-drop", "r1"))
	p := counter("uid-drop", "r2")
	apply(t, m, p)
	assertNotExist(t, filepath.Join(root, "uid-drop", "by-name"))
	if err := eventuallyGone(mapExists, first.Maps["pinned_calls"]); err != nil {
		t.Fatalf("map %d pinned by name: %v", first.Maps["pinned_calls"], err)
	}
}
