package faults

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpfleet/bpfleet/internal/testkernel"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// check asserts that the kernel and the pins hold exactly what phase w
// says, as the node's report names it: one revision per program, pinned
// whole (program, maps, one link per target; no staging directory, no
// other pin), the IDs the report gives, the links attached and running
// the reported program, no other link or counter of the suite's in the
// kernel, and the blocklist's entries.
func (sc *scenario) check(w want) {
	t := sc.h.t
	t.Helper()
	var tp, xdp bpfleetv1.NodeProgramStatus
	if w.running {
		tp, xdp = nodeEntry(t, sc.c, sc.tp.UID), nodeEntry(t, sc.c, sc.xdp.UID)
		checkPins(t, tp, "main")
		checkPins(t, xdp, sc.net.host)
		checkBlocklist(t, xdp.Objects.MapIDs["blocklist"], sc.net.peerIP, w)
	}
	checkRoot(t, sc.h.pinRoot, tp, xdp)
	eventually(t, "the suite's counters in the kernel are those reported", func() error {
		return sameIDs("tracepoint counters", counters(t), programIDs(tp))
	})
	eventually(t, "the XDP links on the veth are those reported", func() error {
		return sameIDs("XDP links on "+sc.net.host, xdpLinks(t, sc.net.host), linkIDs(xdp))
	})
	eventually(t, "the links of the suite's programs are those reported", func() error {
		ours := append(counters(t), programIDs(xdp)...)
		return sameIDs("links of "+fmtIDs(ours), linksOf(t, ours), append(linkIDs(tp), linkIDs(xdp)...))
	})
	for _, st := range []bpfleetv1.NodeProgramStatus{tp, xdp} {
		if st.ProgramID != 0 && !bpftoolShows(t, st.ProgramID) {
			t.Errorf("bpftool does not show program %d of %s", st.ProgramID, st.UID)
		}
	}
}

// checkRoot asserts that the pin root holds the revision directories of
// the reported programs and nothing else.
func checkRoot(t *testing.T, root string, running ...bpfleetv1.NodeProgramStatus) {
	t.Helper()
	var want []string
	for _, st := range running {
		if st.PinPath != "" {
			rel, _ := filepath.Rel(root, st.PinPath)
			want = append(want, filepath.Dir(rel), rel)
		}
	}
	var got []string
	for _, p := range pinsUnder(t, root) {
		if strings.Count(p, "/") <= 1 {
			got = append(got, p)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("pin root holds %v, want %v (one revision per program, no staging)", got, want)
	}
}

// checkPins asserts that st's revision directory holds its program, its
// maps and one link per target, with the reported IDs, each link live
// and running the program.
func checkPins(t *testing.T, st bpfleetv1.NodeProgramStatus, targets ...string) {
	t.Helper()
	dir := pins.Dir(st.PinPath)
	names, err := dir.ProgNames()
	if err != nil || len(names) != 1 {
		t.Fatalf("%s: programs pinned %v (%v), want its one program", st.UID, names, err)
	}
	prog, err := ebpf.LoadPinnedProgram(dir.Prog(names[0]), nil)
	if err != nil {
		t.Fatalf("%s: pinned program: %v", st.UID, err)
	}
	defer prog.Close()
	if id := progID(t, prog); id != st.ProgramID {
		t.Errorf("%s: pinned program %d, reported %d", st.UID, id, st.ProgramID)
	}
	checkPinnedMaps(t, st)
	var got []string
	sets, err := dir.LinkSets()
	if err != nil || len(sets) != 1 || sets[0].Program != names[0] {
		t.Fatalf("%s: link sets pinned %v (%v), want one of program %s", st.UID, sets, err, names[0])
	}
	for _, l := range st.Objects.Links {
		got = append(got, l.Target)
		checkLink(t, st, dir.Link(sets[0], l.Target), l.LinkID)
	}
	pinned, _ := dir.LinkTargets(sets[0])
	if !slices.Equal(got, targets) || len(pinned) != len(targets) {
		t.Errorf("%s: links %v reported, %d pinned; want one on each of %v", st.UID, got, len(pinned), targets)
	}
}

func checkPinnedMaps(t *testing.T, st bpfleetv1.NodeProgramStatus) {
	t.Helper()
	files, _ := os.ReadDir(filepath.Join(st.PinPath, "maps"))
	if len(files) != len(st.Objects.MapIDs) {
		t.Errorf("%s: %d maps pinned, %d reported", st.UID, len(files), len(st.Objects.MapIDs))
	}
	for name, id := range st.Objects.MapIDs {
		m, err := ebpf.LoadPinnedMap(filepath.Join(st.PinPath, "maps", strings.ReplaceAll(name, ".", "-")), nil)
		if err != nil {
			t.Errorf("%s: map %s: %v", st.UID, name, err)
			continue
		}
		if info, err := m.Info(); err != nil {
			t.Error(err)
		} else if got, _ := info.ID(); uint32(got) != id {
			t.Errorf("%s: map %s pinned with ID %d, reported %d", st.UID, name, got, id)
		}
		m.Close()
	}
}

func checkLink(t *testing.T, st bpfleetv1.NodeProgramStatus, pin string, id uint32) {
	t.Helper()
	l, err := link.LoadPinnedLink(pin, nil)
	if err != nil {
		t.Errorf("%s: link %s: %v", st.UID, pin, err)
		return
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	if uint32(info.ID) != id || uint32(info.Program) != st.ProgramID {
		t.Errorf("%s: link %s is %d running program %d, reported link %d of program %d",
			st.UID, pin, info.ID, info.Program, id, st.ProgramID)
	}
}

// checkBlocklist asserts the blocklist's size and whether it blocks addr.
func checkBlocklist(t *testing.T, id uint32, addr string, w want) {
	t.Helper()
	m, err := ebpf.NewMapFromID(ebpf.MapID(id))
	if err != nil {
		t.Fatalf("blocklist %d: %v", id, err)
	}
	defer m.Close()
	if m.MaxEntries() != w.maxEntries {
		t.Errorf("blocklist holds %d entries at most, want %d", m.MaxEntries(), w.maxEntries)
	}
	var drops uint64
	err = m.Lookup(net.ParseIP(addr).To4(), &drops)
	if blocked := err == nil; blocked != w.blocked {
		t.Errorf("blocklist lists %s: %v, want %v (lookup: %v)", addr, blocked, w.blocked, err)
	}
}

// counters lists the suite's tracepoint counters in the kernel: the
// count_openat programs whose filter_pid is the marker.
func counters(t *testing.T) []uint32 {
	t.Helper()
	off := markerOffset(t)
	return testkernel.Programs(t, func(id ebpf.ProgramID) bool { return isCounter(id, off) })
}

func isCounter(id ebpf.ProgramID, off uint32) bool {
	prog, err := ebpf.NewProgramFromID(id)
	if err != nil {
		return false // freed meanwhile
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil || info.Name != "count_openat" {
		return false
	}
	maps, _ := info.MapIDs()
	for _, mid := range maps {
		if rodataHolds(mid, off) {
			return true
		}
	}
	return false
}

// rodataHolds reports whether map mid is a .rodata holding the marker at
// off.
func rodataHolds(mid ebpf.MapID, off uint32) bool {
	m, err := ebpf.NewMapFromID(mid)
	if err != nil {
		return false
	}
	defer m.Close()
	info, err := m.Info()
	if err != nil || !strings.HasSuffix(info.Name, ".rodata") {
		return false
	}
	val := make([]byte, m.ValueSize())
	if err := m.Lookup(uint32(0), val); err != nil || int(off)+4 > len(val) {
		return false
	}
	return binary.NativeEndian.Uint32(val[off:]) == marker
}

func markerOffset(t *testing.T) uint32 {
	t.Helper()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.TracepointCounter))
	if err != nil {
		t.Fatal(err)
	}
	return spec.Variables["filter_pid"].Offset
}

// xdpLinks lists the XDP links on iface.
func xdpLinks(t *testing.T, iface string) []uint32 {
	t.Helper()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	return eachLink(t, func(info *link.Info) bool {
		x := info.XDP()
		return x != nil && int(x.Ifindex) == ifi.Index
	})
}

// linksOf lists the links running one of progs.
func linksOf(t *testing.T, progs []uint32) []uint32 {
	return eachLink(t, func(info *link.Info) bool { return slices.Contains(progs, uint32(info.Program)) })
}

func eachLink(t *testing.T, match func(*link.Info) bool) []uint32 {
	t.Helper()
	var out []uint32
	it := new(link.Iterator)
	defer it.Close()
	for it.Next() {
		if info, err := it.Link.Info(); err == nil && match(info) {
			out = append(out, uint32(it.ID))
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func progID(t *testing.T, p *ebpf.Program) uint32 {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return uint32(id)
}

func programIDs(st bpfleetv1.NodeProgramStatus) []uint32 {
	if st.ProgramID == 0 {
		return nil
	}
	return []uint32{st.ProgramID}
}

func linkIDs(st bpfleetv1.NodeProgramStatus) []uint32 {
	var out []uint32
	for _, l := range st.Objects.Links {
		out = append(out, l.LinkID)
	}
	return out
}

func sameIDs(what string, got, want []uint32) error {
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return errors.New(what + ": kernel has " + fmtIDs(got) + ", want " + fmtIDs(want))
	}
	return nil
}

func fmtIDs(ids []uint32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// eventually retries check for a few seconds: the kernel frees a program
// or link whose last reference went after an RCU grace period.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
	}
	t.Errorf("%s: %v", what, err)
}

// bpftoolShows reports whether bpftool lists the program by ID.
func bpftoolShows(t *testing.T, id uint32) bool {
	t.Helper()
	if _, err := exec.LookPath("bpftool"); err != nil {
		t.Fatal("bpftool not installed: run hack/install-deps.sh (make test does)")
	}
	out, err := exec.Command("bpftool", "prog", "show", "id", strconv.Itoa(int(id))).CombinedOutput()
	return err == nil && len(out) > 0
}
