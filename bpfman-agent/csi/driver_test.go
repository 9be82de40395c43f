package csi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A pod granted read access mounts the program's map: the pin in its
// volume is the program's map (same kernel ID), counting real events; it
// opens read-only, and a write through it fails with EPERM; opening it
// for writing fails (EROFS), root as the test is. Unpublish leaves
// nothing.
func TestPublishReadOnly(t *testing.T) {
	f := setup(t)
	ld := f.load("r1", 0)
	v := f.newVolume("reader")
	f.mustPublish(v, "reader", false, counterAttrs(""))

	entries, err := os.ReadDir(v.target)
	if err != nil || len(entries) != 1 || entries[0].Name() != "counts" {
		t.Fatalf("volume holds %v (%v), want counts only", entries, err)
	}
	m, err := openPinned(t, filepath.Join(v.target, "counts"), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := mapIDOf(t, m); got != ld.Maps["counts"] {
		t.Errorf("the pod's map is %d, the program's %d", got, ld.Maps["counts"])
	}
	testkernel.OpenFiles(t, 5)
	var n uint64
	if err := m.Lookup(testkernel.PidKey(), &n); err != nil || n < 5 {
		t.Errorf("the pod reads %d openat calls (%v), want at least 5", n, err)
	}
	if err := m.Put(testkernel.PidKey(), uint64(0)); !errors.Is(err, unix.EPERM) {
		t.Errorf("a write through the read-only map: %v, want EPERM", err)
	}
	if _, err := openPinned(t, filepath.Join(v.target, "counts"), false); !errors.Is(err, unix.EROFS) {
		t.Errorf("opening the map for writing: %v, want EROFS", err)
	}
	if err := os.Remove(filepath.Join(v.target, "counts")); !errors.Is(err, unix.EROFS) {
		t.Errorf("unpinning from the volume: %v, want EROFS", err)
	}

	if err := f.unpublish(v); err != nil {
		t.Fatal(err)
	}
	gone(t, v.target)
	if mounts, n := f.mounts(); n != 0 || len(mounts) != 0 {
		t.Errorf("after unpublish the report lists %v", mounts)
	}
	if err := f.unpublish(v); err != nil {
		t.Errorf("a second unpublish: %v, want OK", err)
	}
}

// A pod granted ReadWrite, whose volume is not read-only, writes the
// program's map; the same pod asking for a read-only volume cannot.
func TestPublishReadWrite(t *testing.T) {
	f := setup(t)
	ld := f.load("r1", 0)
	rw, ro := f.newVolume("writer"), f.newVolume("writer-ro")
	f.mustPublish(rw, "writer", false, counterAttrs("total"))
	f.mustPublish(ro, "writer", true, counterAttrs("total"))
	if n := metric(t, "bpfleet_agent_csi_volumes", ""); n != 2 {
		t.Errorf("bpfleet_agent_csi_volumes = %v, want 2", n)
	}

	m, err := openPinned(t, filepath.Join(rw.target, "total"), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Put(uint32(0), uint64(42)); err != nil {
		t.Fatalf("a write through the writable volume: %v", err)
	}
	if got := testkernel.MapValue(t, ld.Maps["total"], uint32(0)); got != 42 {
		t.Errorf("the program's map holds %d, want the 42 the pod wrote", got)
	}
	if _, err := openPinned(t, filepath.Join(ro.target, "total"), false); !errors.Is(err, unix.EROFS) {
		t.Errorf("opening for writing in the read-only volume: %v, want EROFS", err)
	}
	mounts, n := f.mounts()
	if n != 2 || mounts[0].Pod != "team/writer" || mounts[0].Access != bpfleetv1.MapReadWrite || mounts[1].Access != bpfleetv1.MapRead {
		t.Errorf("report lists %+v", mounts)
	}
}

// A pod outside the grants, or asking for a map it is not granted, is
// refused with PermissionDenied saying which grant is missing; a program
// the node's set lacks, or that does not run yet, is Unavailable (the
// kubelet retries); a map the object lacks is FailedPrecondition. None leaves a
// target directory or a record behind.
func TestPublishRefused(t *testing.T) {
	f := setup(t)
	v := f.newVolume("p")
	denied, waiting := metric(t, "bpfleet_agent_csi_publishes_total", "denied"), metric(t, "bpfleet_agent_csi_publishes_total", "waiting")
	err := f.publish(v, "reader", true, counterAttrs(""))
	if s := wantCode(t, err, codes.Unavailable); !strings.Contains(s.Message(), "does not run on node node-a yet") {
		t.Errorf("message %q", s.Message())
	}
	f.load("r1", 0)
	for _, tc := range []struct {
		sa, maps, program string
		code              codes.Code
		want              string
	}{
		{sa: "default", code: codes.PermissionDenied, want: "no mapAccess grant of tracepointprogram/counter names serviceaccount team/default"},
		{sa: "reader", maps: "total", code: codes.PermissionDenied, want: `grants serviceaccount team/reader maps counts, not "total"`},
		{sa: "writer", maps: "nosuch", code: codes.PermissionDenied, want: `not "nosuch"`},
		{sa: "reader", program: "xdpprogram/counter", code: codes.Unavailable, want: "xdpprogram/counter is not scheduled on node node-a"},
	} {
		attrs := counterAttrs(tc.maps)
		if tc.program != "" {
			attrs[AttrProgram] = tc.program
		}
		s := wantCode(t, f.publish(v, tc.sa, true, attrs), tc.code)
		if !strings.Contains(s.Message(), tc.want) {
			t.Errorf("message %q, want %q", s.Message(), tc.want)
		}
	}
	f.node.entries[0].MapAccess[0].Maps = append(f.node.entries[0].MapAccess[0].Maps, "nosuch")
	if s := wantCode(t, f.publish(v, "reader", true, counterAttrs("nosuch")), codes.FailedPrecondition); !strings.Contains(s.Message(), `has no map "nosuch" (maps: [counts total])`) {
		t.Errorf("message %q", s.Message())
	}
	gone(t, v.target)
	if recs, _ := f.d.records.load(); len(recs) != 0 {
		t.Errorf("records left: %v", recs)
	}
	if d, w := metric(t, "bpfleet_agent_csi_publishes_total", "denied")-denied, metric(t, "bpfleet_agent_csi_publishes_total", "waiting")-waiting; d != 3 || w != 2 {
		t.Errorf("publishes counted denied %v, waiting %v; want 3 and 2", d, w)
	}
}

// Publishing a volume again is done once; the same volume at another
// target is AlreadyExists, and so is another volume at its target, which
// neither that publish nor an unpublish of the other volume touches.
func TestPublishIdempotent(t *testing.T) {
	f := setup(t)
	f.load("r1", 0)
	v := f.newVolume("reader")
	f.mustPublish(v, "reader", true, counterAttrs(""))
	f.mustPublish(v, "reader", true, counterAttrs(""))
	other := v
	other.target = filepath.Join(filepath.Dir(v.target), "elsewhere")
	wantCode(t, f.publish(other, "reader", true, counterAttrs("")), codes.AlreadyExists)
	gone(t, other.target)

	intruder := v
	intruder.id = "csi-other"
	wantCode(t, f.publish(intruder, "reader", true, counterAttrs("")), codes.AlreadyExists)
	if err := f.unpublish(intruder); err != nil {
		t.Fatal(err)
	}
	if mounted, err := isVolume(v.target); err != nil || !mounted {
		t.Errorf("another volume's unpublish unmounted %s (%v)", v.target, err)
	}
}

// After the node restarted (the volume's filesystem gone, its record
// kept), the kubelet's publish of the same volume mounts it again.
func TestPublishAfterReboot(t *testing.T) {
	f := setup(t)
	f.load("r1", 0)
	v := f.newVolume("reader")
	f.mustPublish(v, "reader", true, counterAttrs(""))
	if err := unix.Unmount(v.target, 0); err != nil {
		t.Fatal(err)
	}
	f.mustPublish(v, "reader", true, counterAttrs(""))
	if _, err := openPinned(t, filepath.Join(v.target, "counts"), true); err != nil {
		t.Errorf("after publishing again: %v", err)
	}
	if err := unix.Unmount(v.target, 0); err != nil {
		t.Fatal(err)
	}
	f.d = f.driver()
	if _, n := f.mounts(); n != 0 {
		t.Errorf("a restarted driver reports %d volumes whose filesystem is gone", n)
	}
}

// A target reached through a symbolic link below the kubelet's pods
// directory is refused: the agent would mount where it points. A link to
// the pods directory itself (a kubelet root moved to another disk) is
// not.
func TestPublishRefusesSymlinks(t *testing.T) {
	f := setup(t)
	f.load("r1", 0)
	real := f.pods
	f.pods = filepath.Join(t.TempDir(), "pods")
	if err := os.Symlink(real, f.pods); err != nil {
		t.Fatal(err)
	}
	f.d = f.driver()
	linked := f.newVolume("linked")
	f.mustPublish(linked, "reader", true, counterAttrs(""))
	if err := f.unpublish(linked); err != nil {
		t.Fatal(err)
	}

	v := f.newVolume("reader")
	elsewhere := t.TempDir()
	if err := os.MkdirAll(filepath.Dir(filepath.Dir(v.target)), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Dir(v.target)); err != nil {
		t.Fatal(err)
	}
	s := wantCode(t, f.publish(v, "reader", true, counterAttrs("")), codes.Internal)
	if !strings.Contains(s.Message(), "symbolic link") {
		t.Errorf("message %q", s.Message())
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("the driver made %v where the link points", entries)
	}
}

// An agent restarted finds the volumes published before: it reports them
// and unpublishes them.
func TestRestartKeepsVolumes(t *testing.T) {
	f := setup(t)
	f.load("r1", 0)
	v := f.newVolume("reader")
	f.mustPublish(v, "reader", true, counterAttrs(""))

	f.d = f.driver()
	if mounts, n := f.mounts(); n != 1 || mounts[0].Pod != "team/reader" || strings.Join(mapNames(mounts[0]), ",") != "counts" {
		t.Fatalf("restarted driver reports %+v", mounts)
	}
	if err := f.unpublish(v); err != nil {
		t.Fatal(err)
	}
	gone(t, v.target)
}

// A new revision that keeps the map's definition keeps the map: the pod's
// map is still the program's, and nothing is stale. One that makes it
// anew (a new maxEntries):
// a writable volume's pin follows; a read-only volume stays as it is and
// the report says it is stale. Once the program is gone, the writable
// volume is emptied.
func TestFollow(t *testing.T) {
	f := setup(t)
	f.load("r1", 0)
	rw, ro := f.newVolume("writer"), f.newVolume("reader")
	f.mustPublish(rw, "writer", false, counterAttrs("counts"))
	f.mustPublish(ro, "reader", true, counterAttrs(""))
	held, err := openPinned(t, filepath.Join(ro.target, "counts"), true)
	if err != nil {
		t.Fatal(err)
	}

	kept := f.load("r1b", 0)
	if err := f.d.Follow(); err != nil {
		t.Fatal(err)
	}
	if mapIDOf(t, held) != kept.Maps["counts"] {
		t.Errorf("an update keeping the map's definition: the pod holds map %d, the program uses %d", mapIDOf(t, held), kept.Maps["counts"])
	}
	if mounts, _ := f.mounts(); mounts[0].Stale != "" || mounts[1].Stale != "" {
		t.Errorf("stale after an update that kept the maps: %+v", mounts)
	}

	ld := f.load("r2", 20000)
	if err := f.d.Follow(); err != nil {
		t.Fatal(err)
	}
	ids, err := pinnedIDs(rw.target, []string{"counts"})
	if err != nil || ids["counts"] != ld.Maps["counts"] {
		t.Errorf("the writable volume pins map %d (%v), the program's is %d", ids["counts"], err, ld.Maps["counts"])
	}
	if mapIDOf(t, held) == ld.Maps["counts"] {
		t.Fatal("a new maxEntries kept the map: the test shows nothing")
	}
	mounts, _ := f.mounts()
	if mounts[0].Pod != "team/reader" || !strings.Contains(mounts[0].Stale, "maps counts were made anew") || mounts[1].Stale != "" {
		t.Errorf("report lists %+v", mounts)
	}

	if err := f.node.Remove(counterUID); err != nil {
		t.Fatal(err)
	}
	if err := f.d.Follow(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(rw.target); len(entries) != 0 {
		t.Errorf("the writable volume still holds %v after the program went", entries)
	}
}

func mapNames(m bpfleetv1.MapMount) []string {
	var out []string
	for _, n := range m.Maps {
		out = append(out, string(n))
	}
	return out
}

// A grant taken back takes the pins of a writable volume away, and marks
// a read-only one stale (its pod keeps what it opened until it restarts).
func TestFollowRevokedGrant(t *testing.T) {
	f := setup(t)
	f.load("r1", 0)
	rw, ro := f.newVolume("writer"), f.newVolume("reader")
	f.mustPublish(rw, "writer", false, counterAttrs("total"))
	f.mustPublish(ro, "reader", true, counterAttrs(""))
	f.node.entries[0].MapAccess = nil
	if err := f.d.Follow(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(rw.target); len(entries) != 0 {
		t.Errorf("the writable volume still holds %v after its grant went", entries)
	}
	mounts, _ := f.mounts()
	for _, m := range mounts {
		if !strings.Contains(m.Stale, "no longer granted") {
			t.Errorf("%s: stale %q, want it to say the grant went", m.Pod, m.Stale)
		}
	}
}

// mounts are the counter's mounts, as its report entry lists them.
func (f *fixture) mounts() ([]bpfleetv1.MapMount, int32) {
	m := f.d.Mounts()[counterUID]
	return m.List, m.Count
}

// A publish cut short by a crash (the volume mounted, not recorded; its
// staging mount left) is made whole by the kubelet's next publish: one
// mount at the target, none left at staging once a driver starts again.
func TestPublishAfterCrash(t *testing.T) {
	f := setup(t)
	f.load("r1", 0)
	v := f.newVolume("reader")
	staging := f.d.records.staging(v.id)
	for _, dir := range []string{v.target, staging} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("bpf", dir, "bpf", 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.d = f.driver()
	if n := mountsAt(t, staging); n != 0 {
		t.Errorf("%d mounts left at the staging path after a restart", n)
	}
	f.mustPublish(v, "reader", true, counterAttrs(""))
	if n := mountsAt(t, v.target); n != 1 {
		t.Errorf("%d mounts at the target, want 1", n)
	}
	if err := f.unpublish(v); err != nil {
		t.Fatal(err)
	}
	gone(t, v.target)
}

// mountsAt counts the mounts at dir (/proc/self/mountinfo).
func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) > 4 && fields[4] == dir {
			n++
		}
	}
	return n
}
