package maps

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// contents reads a hash map of __u32 keys and values as a Go map.
func contents(t *testing.T, m *ebpf.Map) map[uint32]uint64 {
	t.Helper()
	keys, values, err := dump(m)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[uint32]uint64)
	for i := range keys.len() {
		out[binary.BigEndian.Uint32(keys.at(i))] = binary.NativeEndian.Uint64(values.at(i))
	}
	return out
}

// ip is 10.0.0.n as the uint32 contents reports.
func ip(n uint32) uint32 { return 10<<24 | n }

func ipEntry(n, drops int) Entry {
	return entry(fmt.Sprintf(`{"addr": "10.0.0.%d"}`, n), fmt.Sprintf(`{"drops": %d}`, drops))
}

func mustApply(t *testing.T, m *ebpf.Map, spec *ebpf.MapSpec, mode Mode, atomic bool, entries ...Entry) Result {
	t.Helper()
	res, err := Apply(m, spec.Key, spec.Value, entries, Options{Mode: mode, Atomic: atomic})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

func TestApplyHash(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t)
	m := newMap(t, spec)

	res := mustApply(t, m, spec, Merge, false, ipEntry(1, 0), ipEntry(2, 5))
	want(t, res, 2, 0, 2)
	res = mustApply(t, m, spec, Merge, false, ipEntry(3, 0), entry(`"0x0a00"`, `1`), ipEntry(2, 7))
	want(t, res, 2, 1, 3)
	wantFailure(t, res, 1, "key: want 4 bytes, got 0x0a00 (2 bytes)")
	res = mustApply(t, m, spec, Merge, false, entry(`{"addr": "10.0.0.300"}`, `{}`), entry(`{"addr": "10.0.0.9"}`, `{"drops": -1}`))
	wantFailure(t, res, 0, `key.addr: "10.0.0.300" is not an IPv4 address`)
	wantFailure(t, res, 1, "value.drops: -1 is negative, the type is unsigned")
	wantContents(t, m, map[uint32]uint64{ip(1): 0, ip(2): 7, ip(3): 0})

	res = mustApply(t, m, spec, Exact, false, ipEntry(3, 1), entry(`{"addr": "10.0.0.2"}`, `{"drops": "many"}`))
	want(t, res, 1, 1, 2)
	wantFailure(t, res, 1, `value.drops: "many" is not an integer`)
	wantContents(t, m, map[uint32]uint64{ip(2): 7, ip(3): 1}) // a bad value does not remove its key

	want(t, mustApply(t, m, spec, Exact, false), 0, 0, 0)
}

// In mode Merge a policy manages the keys it lists: one it listed before
// and no longer does is removed, a key it never listed stays, and a key
// whose new entry fails is left as it is.
func TestApplyMergeRemovesKeysNoLongerListed(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t)
	m := newMap(t, spec)
	mustApply(t, m, spec, Exact, false, ipEntry(9, 9)) // another writer's key
	previous := []json.RawMessage{
		json.RawMessage(`{"addr": "10.0.0.1"}`), json.RawMessage(`{"addr": "10.0.0.2"}`),
		json.RawMessage(`{"addr": "10.0.0.3"}`), json.RawMessage(`{"addr": "no address"}`),
	}
	mustApply(t, m, spec, Merge, false, ipEntry(1, 1), ipEntry(2, 2), ipEntry(3, 3))
	for _, atomic := range []bool{false, true} {
		res, err := Apply(m, spec.Key, spec.Value, []Entry{ipEntry(1, 4), entry(`{"addr": "10.0.0.3"}`, `{"drops": -1}`)},
			Options{Mode: Merge, Atomic: atomic, Previous: previous})
		if err != nil {
			t.Fatal(err)
		}
		if atomic {
			wantContents(t, m, map[uint32]uint64{ip(1): 4, ip(2): 2, ip(3): 3, ip(9): 9}) // the bad entry: nothing changes
			continue
		}
		want(t, res, 1, 1, 3)
		wantContents(t, m, map[uint32]uint64{ip(1): 4, ip(3): 3, ip(9): 9})
		mustApply(t, m, spec, Merge, false, ipEntry(2, 2)) // put 10.0.0.2 back for the atomic run
	}
}

func TestApplyAtomicBadEntryWritesNothing(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t)
	m := newMap(t, spec)
	mustApply(t, m, spec, Merge, false, ipEntry(1, 1))

	res := mustApply(t, m, spec, Exact, true, ipEntry(2, 0), entry(`{"addr": "10.0.0.1"}`, `{"prot": 1}`))
	want(t, res, 0, 1, 1)
	wantFailure(t, res, 1, `value: unknown field "prot" (struct verdict has: drops)`)
	wantContents(t, m, map[uint32]uint64{ip(1): 1})
}

func TestApplyMapFull(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t).Copy()
	spec.MaxEntries = 4
	for _, tc := range []struct {
		name    string
		atomic  bool
		applied int
		failed  int
		after   int
	}{
		{"merge", false, 2, 1, 4},
		{"atomic", true, 0, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMap(t, spec)
			mustApply(t, m, spec, Merge, false, ipEntry(1, 0), ipEntry(2, 0))
			res := mustApply(t, m, spec, Merge, tc.atomic, ipEntry(3, 0), ipEntry(4, 0), ipEntry(5, 0))
			want(t, res, tc.applied, tc.failed, tc.after)
			if !errors.Is(res.Failed[0].Err, ErrMapFull) || res.Failed[0].Index != 2 {
				t.Fatalf("failure = %v, want entry 2: map full", res.Failed[0])
			}
		})
	}
}

func TestApplyMoreEntriesThanMax(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t).Copy()
	spec.MaxEntries = 2
	m := newMap(t, spec)
	res := mustApply(t, m, spec, Exact, true, ipEntry(1, 0), ipEntry(2, 0), ipEntry(3, 0))
	want(t, res, 0, 1, 0)
	wantFailure(t, res, 2, "map full: the policy lists 3 entries, the map holds at most 2")
}

func TestApplyArray(t *testing.T) {
	testkernel.Require(t)
	spec := arraySpec(t, 4)
	m := newMap(t, spec)
	res := mustApply(t, m, spec, Merge, false, entry(`0`, `{"drops": 7}`), entry(`3`, `{"drops": 9}`), entry(`4`, `{}`), entry(`0`, `{}`))
	want(t, res, 2, 2, 4)
	wantFailure(t, res, 2, "key: index 4 is out of the array's range [0, 3]")
	wantFailure(t, res, 3, "key: same key as entry 0")
	wantArray(t, m, 7, 0, 0, 9)

	res = mustApply(t, m, spec, Exact, false, entry(`1`, `{"drops": 1}`))
	want(t, res, 1, 0, 4)
	wantArray(t, m, 0, 1, 0, 0)
}

func TestApplyRefuses(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t)
	m := newMap(t, spec)
	if _, err := Apply(m, spec.Key, spec.Value, nil, Options{Mode: "replace"}); err == nil {
		t.Fatal("mode replace: no error")
	}
	ring := newMap(t, &ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 4096})
	if _, err := Apply(ring, nil, nil, nil, Options{Mode: Merge}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("ring buffer: %v", err)
	}
}

func want(t *testing.T, res Result, applied, failed, entries int) {
	t.Helper()
	if res.Applied != applied || len(res.Failed) != failed || res.Entries != entries {
		t.Fatalf("result = applied %d, failed %v, entries %d; want %d, %d failures, %d",
			res.Applied, res.Failed, res.Entries, applied, failed, entries)
	}
}

func wantFailure(t *testing.T, res Result, index int, msg string) {
	t.Helper()
	for _, f := range res.Failed {
		if f.Index == index && f.Err.Error() == msg {
			return
		}
	}
	t.Fatalf("failures %v: want entry %d: %s", res.Failed, index, msg)
}

func wantContents(t *testing.T, m *ebpf.Map, want map[uint32]uint64) {
	t.Helper()
	got := contents(t, m)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("map holds %v, want %v", got, want)
	}
}

func wantArray(t *testing.T, m *ebpf.Map, want ...uint64) {
	t.Helper()
	for i, w := range want {
		var v uint64
		if err := m.Lookup(uint32(i), &v); err != nil || v != w {
			t.Fatalf("array[%d] = %d, %v; want %d", i, v, err, w)
		}
	}
}

func TestAtomicRollback(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t)
	m := newMap(t, spec)
	mustApply(t, m, spec, Merge, false, ipEntry(1, 1), ipEntry(2, 2))
	p := plan(m, spec.Key, spec.Value, []Entry{ipEntry(2, 20), ipEntry(3, 30)})
	w := testWriter(t, m)
	w.atomic = true
	if applied, failed, _, err := w.apply(p, Options{Mode: Exact}, spec.Key); applied != 2 || len(failed) != 0 || err != nil {
		t.Fatalf("apply = %d, %v, %v", applied, failed, err)
	}
	wantContents(t, m, map[uint32]uint64{ip(2): 20, ip(3): 30})
	if err := w.rollback(nil); err != nil {
		t.Fatal(err)
	}
	wantContents(t, m, map[uint32]uint64{ip(1): 1, ip(2): 2})
}

// TestApplyUntypedLPMTrie writes a map without BTF: hex keys, number
// values.
func TestApplyUntypedLPMTrie(t *testing.T) {
	testkernel.Require(t)
	spec := &ebpf.MapSpec{Type: ebpf.LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 2, Flags: unix.BPF_F_NO_PREALLOC}
	m := newMap(t, spec)
	// prefixlen 24 (host order) then 10.0.0.0; prefixlen 32 then 10.0.0.1.
	net24, host32 := `"0x180000000a000000"`, `"0x200000000a000001"`
	res := mustApply(t, m, spec, Merge, false, entry(net24, `1`), entry(host32, `2`), entry(`"0x100000000a010000"`, `3`))
	want(t, res, 2, 1, 2)
	if !errors.Is(res.Failed[0].Err, ErrMapFull) {
		t.Fatalf("third entry: %v, want map full", res.Failed[0].Err)
	}
	res = mustApply(t, m, spec, Exact, false, entry(host32, `5`))
	want(t, res, 1, 0, 1)
	res = mustApply(t, m, spec, Merge, false, entry(`"10.0.0.1"`, `1`))
	wantFailure(t, res, 0, `key: "10.0.0.1" needs the map's BTF, which it has none of; use a number or "0x…" hex (8 bytes)`)
}

// TestApplyOneByOne takes the path of maps without batch operations.
func TestApplyOneByOne(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t).Copy()
	spec.MaxEntries = 3
	m := newMap(t, spec)
	w := testWriter(t, m)
	w.each = true
	run := func(mode Mode, entries ...Entry) Result {
		t.Helper()
		res, err := apply(w, spec.Key, spec.Value, entries, Options{Mode: mode, Atomic: w.atomic})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	want(t, run(Merge, ipEntry(1, 1), ipEntry(2, 2)), 2, 0, 2)
	want(t, run(Exact, ipEntry(2, 0), ipEntry(3, 3), ipEntry(4, 4)), 3, 0, 3)
	wantContents(t, m, map[uint32]uint64{ip(2): 0, ip(3): 3, ip(4): 4})
	res := run(Merge, ipEntry(5, 5))
	want(t, res, 0, 1, 3)
	if !errors.Is(res.Failed[0].Err, ErrMapFull) {
		t.Fatalf("failure = %v, want map full", res.Failed[0])
	}
}

// TestRemove removes a deleted policy's keys: from a hash map (an absent
// key and one that does not encode are skipped, another writer's key
// stays, keys gone already do not stop those after them), and from an
// array (zeroed).
func TestRemove(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t)
	m := newMap(t, spec)
	mustApply(t, m, spec, Merge, false, ipEntry(1, 1), ipEntry(2, 2), ipEntry(9, 9))
	keys := []json.RawMessage{[]byte(`{"addr": "10.0.0.1"}`), []byte(`{"addr": "10.0.0.2"}`),
		[]byte(`{"addr": "10.0.0.3"}`), []byte(`{"addr": "no address"}`)}
	if n, err := Remove(m, spec.Key, keys); n != 3 || err != nil {
		t.Fatalf("Remove = %d, %v; want 3 keys", n, err)
	}
	wantContents(t, m, map[uint32]uint64{ip(9): 9})
	// Again, as a removal tried again: the keys are gone, but 10.0.0.9,
	// listed after them, is not.
	if n, err := Remove(m, spec.Key, append(keys, []byte(`{"addr": "10.0.0.9"}`))); n != 4 || err != nil {
		t.Fatalf("Remove again = %d, %v; want 4 keys", n, err)
	}
	wantContents(t, m, map[uint32]uint64{})

	array := arraySpec(t, 4)
	a := newMap(t, array)
	mustApply(t, a, array, Merge, false, entry(`1`, `{"drops": 5}`), entry(`2`, `{"drops": 6}`))
	if n, err := Remove(a, array.Key, []json.RawMessage{[]byte(`1`)}); n != 1 || err != nil {
		t.Fatalf("Remove from an array = %d, %v", n, err)
	}
	var v uint64
	for i, want := range []uint64{0, 0, 6, 0} {
		if err := a.Lookup(uint32(i), &v); err != nil || v != want {
			t.Errorf("array[%d] = %d, %v; want %d", i, v, err, want)
		}
	}
}

// TestApplyLongList writes a list long enough to be encoded in parts (on
// every processor): bad entries in each part and a key repeated across
// parts are each reported, in order and by their index in the list, and
// every other entry is written, its value where its key says.
func TestApplyLongList(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t).Copy()
	spec.MaxEntries = 8192
	m := newMap(t, spec)
	entries := blocklistEntries(4 * perWorker)
	for i := range entries {
		entries[i].Value = json.RawMessage(fmt.Sprintf(`{"drops": %d}`, i))
	}
	entries[3].Value = json.RawMessage(`{"drops": -1}`)
	entries[len(entries)-1].Key = json.RawMessage(`{"addr": "10.0.0.300"}`)
	entries[3*perWorker].Key = entries[5].Key
	entries[2*perWorker+1].Value = json.RawMessage(`{"hits": 1}`)
	res, err := Apply(m, spec.Key, spec.Value, entries, Options{Mode: Merge})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, len(entries)-4, 4, len(entries)-4)
	var got []int
	for _, f := range res.Failed {
		got = append(got, f.Index)
	}
	if wantIdx := []int{3, 2*perWorker + 1, 3 * perWorker, len(entries) - 1}; fmt.Sprint(got) != fmt.Sprint(wantIdx) {
		t.Fatalf("failed entries %v, want %v", got, wantIdx)
	}
	wantFailure(t, res, 3*perWorker, "key: same key as entry 5")
	for addr, drops := range contents(t, m) {
		if i := int(addr - 10<<24); int(drops) != i {
			t.Fatalf("entry %d holds drops %d", i, drops)
		}
	}

	// The list again without its first entry, every key one place
	// earlier, and the keys written before as Previous: only the first
	// key goes.
	var previous []json.RawMessage
	for _, e := range entries {
		previous = append(previous, e.Key)
	}
	if _, err := Apply(m, spec.Key, spec.Value, entries[1:], Options{Mode: Merge, Previous: previous}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := Usage(m); err != nil || got != len(entries)-5 {
		t.Fatalf("map holds %d entries (%v) after the first key was dropped, want %d", got, err, len(entries)-5)
	}
	if _, ok := contents(t, m)[10<<24]; ok {
		t.Fatal("the key no longer listed is still in the map")
	}

	// A map too small: the entries past its max_entries are refused too.
	spec.MaxEntries = uint32(len(entries) - 10)
	res, err = Apply(newMap(t, spec), spec.Key, spec.Value, entries, Options{Mode: Merge})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, len(entries)-13, 13, len(entries)-13)
	wantFailure(t, res, len(entries)-2, fmt.Sprintf("map full: the policy lists %d entries, the map holds at most %d", len(entries), spec.MaxEntries))
}

// TestApplyRepeatedValues writes entries whose values repeat, run after
// run and apart, and a bad value repeated: each key holds its own value.
func TestApplyRepeatedValues(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t)
	m := newMap(t, spec)
	res := mustApply(t, m, spec, Merge, false, ipEntry(1, 7), ipEntry(2, 7), ipEntry(3, 9), ipEntry(4, 7),
		entry(`{"addr": "10.0.0.5"}`, `{"drops": -1}`), entry(`{"addr": "10.0.0.6"}`, `{"drops": -1}`), ipEntry(7, 9))
	want(t, res, 5, 2, 5)
	wantFailure(t, res, 5, "value.drops: -1 is negative, the type is unsigned")
	wantContents(t, m, map[uint32]uint64{10<<24 | 1: 7, 10<<24 | 2: 7, 10<<24 | 3: 9, 10<<24 | 4: 7, 10<<24 | 7: 9})
}

// TestApplyMergePreviousAnywhere lists, in mode Merge, the keys written
// before at other places and spelled otherwise: only the key no longer
// listed at all is removed, wherever and however the others are listed.
func TestApplyMergePreviousAnywhere(t *testing.T) {
	testkernel.Require(t)
	spec := blocklistSpec(t)
	m := newMap(t, spec)
	var previous []json.RawMessage
	for n := 1; n <= 4; n++ {
		previous = append(previous, json.RawMessage(fmt.Sprintf(`{"addr": "10.0.0.%d"}`, n)))
	}
	mustApply(t, m, spec, Merge, false, ipEntry(1, 1), ipEntry(2, 2), ipEntry(3, 3), ipEntry(4, 4))
	res, err := Apply(m, spec.Key, spec.Value, []Entry{
		entry(`{"addr":"10.0.0.2"}`, `{"drops": 5}`), // spelled otherwise, at the place of 10.0.0.1
		ipEntry(1, 5), // the same text, at another place
		ipEntry(5, 5), // new, at the place of 10.0.0.3, which goes
		ipEntry(4, 5), // the same text at the same place
	}, Options{Mode: Merge, Previous: previous})
	if err != nil || len(res.Failed) > 0 {
		t.Fatal(err, res.Failed)
	}
	wantContents(t, m, map[uint32]uint64{ip(1): 5, ip(2): 5, ip(4): 5, ip(5): 5})
}
