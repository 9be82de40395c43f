package mappolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestLedgerKnowsKeysWrittenBeforeACrash writes a merge policy, then a new
// list, with the agent failing between the map write and the ledger's
// narrowing, as a crash there would: a restarted agent whose policy no
// longer lists a key written then still removes it.
func TestLedgerKnowsKeysWrittenBeforeACrash(t *testing.T) {
	testkernel.Require(t)
	spec := testkernel.MapSpecOf(t, bpf.XDPFilter, "blocklist")
	m := testkernel.NewMap(t, spec)
	dir := ledger{dir: t.TempDir()}
	nmp := &bpfleetv1.NodeMapPolicy{UID: "policy", Name: "blocklist"}
	write := func(w *Writer, addrs ...string) error {
		st, _, err := w.writeEntries(nmp, bpfleetv1.NodeMapPolicyStatus{State: bpfleetv1.StateReady}, spec, []*ebpf.Map{m}, blocked(addrs...))
		if err == nil && st.State != bpfleetv1.StateReady {
			err = fmt.Errorf("%s: %s", st.Reason, st.Message)
		}
		return err
	}

	if err := write(&Writer{written: dir}, "10.0.0.1", "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("killed after the map write")
	crashing := &Writer{written: dir, afterMapWrite: func() error { return crash }}
	if err := write(crashing, "10.0.0.2", "10.0.0.3"); !errors.Is(err, crash) {
		t.Fatalf("write = %v, want the crash", err)
	}
	if got := addrsIn(t, m); !slices.Equal(got, []string{"10.0.0.2", "10.0.0.3"}) {
		t.Fatalf("map after the crashed write holds %v", got)
	}
	if err := write(&Writer{written: dir}, "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	if got := addrsIn(t, m); !slices.Equal(got, []string{"10.0.0.2"}) {
		t.Errorf("map holds %v after the policy stopped listing 10.0.0.3, want [10.0.0.2]: the ledger lost a key written before the crash", got)
	}
}

func blocked(addrs ...string) []maps.Entry {
	out := make([]maps.Entry, len(addrs))
	for i, a := range addrs {
		out[i] = maps.Entry{Key: []byte(fmt.Sprintf(`{"addr": %q}`, a)), Value: []byte(`{"drops": 0}`)}
	}
	return out
}

// addrsIn lists the addresses in a blocklist map, sorted.
func addrsIn(t *testing.T, m *ebpf.Map) []string {
	t.Helper()
	var (
		key   [4]byte
		value [8]byte
		out   []string
	)
	it := m.Iterate()
	for it.Next(&key, &value) {
		out = append(out, netip.AddrFrom4(key).String())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestAtomicWriteWithoutRoomIsRetried writes an atomic policy into a map
// too small for it: nothing is written, status says so, and the write is
// not remembered as done, so the next pass tries again.
func TestAtomicWriteWithoutRoomIsRetried(t *testing.T) {
	testkernel.Require(t)
	spec := testkernel.MapSpecOf(t, bpf.XDPFilter, "blocklist").Copy()
	spec.MaxEntries = 2
	m := testkernel.NewMap(t, spec)
	w := &Writer{written: ledger{dir: t.TempDir()}}
	nmp := &bpfleetv1.NodeMapPolicy{UID: "policy", Name: "blocklist", Atomic: true}
	st, done, err := w.writeEntries(nmp, bpfleetv1.NodeMapPolicyStatus{}, spec, []*ebpf.Map{m}, blocked("10.0.0.1", "10.0.0.2", "10.0.0.3"))
	if err != nil || done || st.Reason != bpfleetv1.ReasonMapFull || st.Terminal {
		t.Fatalf("atomic write into a full map: done %v, %s terminal=%v, %v; want MapFull, not done, not terminal", done, st.Reason, st.Terminal, err)
	}
	if !strings.Contains(st.Message, "none written") || !strings.Contains(st.Message, "tried again") {
		t.Errorf("message %q does not say nothing was written and that it is retried", st.Message)
	}
	if got := addrsIn(t, m); len(got) != 0 {
		t.Errorf("map holds %v after a refused atomic write", got)
	}
}

// TestSameKeysLeaveTheLedgerAsItIs writes a policy, then the same keys
// again (into a new map, or by an agent restarted): the ledger holds them
// already, so it is neither rewritten nor synced again; a new list still
// rewrites it.
func TestSameKeysLeaveTheLedgerAsItIs(t *testing.T) {
	spec, m, w, nmp := blocklistWriter(t)
	p, _ := w.written.path(nmp.UID)
	write := func(addrs ...string) string {
		t.Helper()
		if _, _, err := w.writeEntries(nmp, bpfleetv1.NodeMapPolicyStatus{}, spec, []*ebpf.Map{m}, blocked(addrs...)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write("10.0.0.1", "10.0.0.2")
	// The same keys, laid out otherwise: a rewrite would show.
	laidOut := "[\n" + `{"addr": "10.0.0.1"}` + ",\n" + `{"addr": "10.0.0.2"}` + "\n]"
	if err := os.WriteFile(p, []byte(laidOut), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := write("10.0.0.1", "10.0.0.2"); got != laidOut {
		t.Errorf("the ledger was rewritten for the keys it holds already: %q", got)
	}
	if got := write("10.0.0.3"); got != `[{"addr": "10.0.0.3"}]` {
		t.Errorf("ledger after a new list = %q, want that list", got)
	}
}

// TestStatusCountsTheMapsEntries writes a merge policy again and again:
// new keys, keys listed again (overwritten), keys no longer listed
// (removed), then a key a program adds. After each, the entries its
// status reports (and the fill-ratio metric records) must be the number
// of keys iterating the map finds.
func TestStatusCountsTheMapsEntries(t *testing.T) {
	spec, m, w, nmp := blocklistWriter(t)
	check := func(step string, st bpfleetv1.NodeMapPolicyStatus) {
		t.Helper()
		if want := len(addrsIn(t, m)); int(st.Entries) != want || st.MaxEntries != int32(spec.MaxEntries) {
			t.Errorf("%s: status reports %d of %d entries, the map holds %d of %d", step, st.Entries, st.MaxEntries, want, spec.MaxEntries)
		}
	}
	write := func(step string, addrs ...string) bpfleetv1.NodeMapPolicyStatus {
		t.Helper()
		st, _, err := w.writeEntries(nmp, bpfleetv1.NodeMapPolicyStatus{}, spec, []*ebpf.Map{m}, blocked(addrs...))
		if err != nil {
			t.Fatal(err)
		}
		check(step, st)
		return st
	}
	write("new keys", "10.0.0.1", "10.0.0.2", "10.0.0.3")
	write("the same keys", "10.0.0.1", "10.0.0.2", "10.0.0.3")
	write("one kept, one new, two no longer listed", "10.0.0.3", "10.0.0.4")
	st := write("keys removed", "10.0.0.4")
	if err := m.Put(netip.MustParseAddr("192.0.2.1").As4(), uint64(1)); err != nil {
		t.Fatal(err)
	}
	check("a key a program added, on the next pass", w.usage(st, []*ebpf.Map{m}))
}

// blocklistWriter is a Writer with its own ledger directory, a blocklist
// map and a policy for it.
func blocklistWriter(t *testing.T) (*ebpf.MapSpec, *ebpf.Map, *Writer, *bpfleetv1.NodeMapPolicy) {
	t.Helper()
	testkernel.Require(t)
	spec := testkernel.MapSpecOf(t, bpf.XDPFilter, "blocklist")
	return spec, testkernel.NewMap(t, spec), &Writer{written: ledger{dir: t.TempDir()}},
		&bpfleetv1.NodeMapPolicy{UID: "policy", Name: "blocklist"}
}
