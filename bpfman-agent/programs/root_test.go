package programs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// privateBPFFS mounts a BPF filesystem of the test's own at a temporary
// directory (each mount is an instance of its own) and unmounts whatever
// is mounted there at the end.
func privateBPFFS(t *testing.T) string {
	t.Helper()
	testkernel.Require(t)
	dir := t.TempDir()
	mountBPFFS(t, dir)
	t.Cleanup(func() {
		for onBPFFS(dir) {
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
				return
			}
		}
	})
	return dir
}

func mountBPFFS(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Mount("bpffs", dir, "bpf", 0, ""); err != nil {
		t.Fatalf("mount bpffs at %s: %v", dir, err)
	}
}

func unmount(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		t.Fatalf("unmount %s: %v", dir, err)
	}
}

func onBPFFS(dir string) bool {
	ok, _ := pins.IsBPFFS(dir)
	return ok
}

// The BPF filesystem holding the pins is unmounted under a running
// Manager: its programs and links are gone from the kernel. CheckRoot
// notices, mounts it again where the Manager may (here the test's mount
// point), and the next Apply loads and pins the program again.
func TestPinRootUnmountedIsRemounted(t *testing.T) {
	mnt := privateBPFFS(t)
	root := filepath.Join(mnt, "bpfleet")
	m, err := programs.New(root, programs.MountBPFFSAt(mnt))
	if err != nil {
		t.Fatal(err)
	}
	p := counter("uid-a", "r1")
	first := apply(t, m, p)
	if lost, err := m.CheckRoot(); lost != "" || err != nil {
		t.Fatalf("CheckRoot on an intact root = %q, %v", lost, err)
	}
	unmount(t, mnt)
	assertGone(t, first)

	lost, err := m.CheckRoot()
	if err != nil || !strings.Contains(lost, "unmounted") {
		t.Fatalf("CheckRoot after unmount = %q, %v; want the pins reported lost to an unmount", lost, err)
	}
	if !onBPFFS(root) {
		t.Fatalf("%s is not on a BPF filesystem again", root)
	}
	again := apply(t, m, p)
	if again.Adopted || sole(again).ID == sole(first).ID {
		t.Fatalf("after the unmount: %+v, want the program loaded anew", again)
	}
	assertAlive(t, again)
	if _, err := os.Stat(filepath.Join(again.PinDir, "links", "count_openat", "main")); err != nil {
		t.Fatalf("link not pinned again: %v", err)
	}
	testkernel.OpenFiles(t, 3)
	if n := testkernel.MapValue(t, again.Maps["counts"], uint32(os.Getpid())); n < 3 {
		t.Errorf("the reloaded program counted %d of 3 opens", n)
	}
	if lost, err := m.CheckRoot(); lost != "" || err != nil {
		t.Fatalf("CheckRoot once restored = %q, %v", lost, err)
	}
}

// A Manager that may not mount a BPF filesystem (its root is not under a
// mount point it owns) reports the unmount as PinRootUnavailable, and
// loads, creates and removes nothing until a BPF filesystem is back.
func TestPinRootUnavailable(t *testing.T) {
	mnt := privateBPFFS(t)
	root := filepath.Join(mnt, "bpfleet")
	m := newManager(t, root)
	p := counter("uid-a", "r1")
	first := apply(t, m, p)
	unmount(t, mnt)
	assertGone(t, first)

	_, err := m.CheckRoot()
	assertReason(t, "CheckRoot", err, programs.ReasonPinRootUnavailable)
	applyErr(t, m, p, programs.ReasonPinRootUnavailable)
	assertReason(t, "Prune", m.Prune(nil), programs.ReasonPinRootUnavailable)
	if _, err := m.Installed(); err == nil {
		t.Error("Installed succeeded on an unavailable root")
	}
	assertNotExist(t, root)
	if onBPFFS(mnt) {
		t.Fatalf("%s was mounted again by a Manager not allowed to", mnt)
	}

	mountBPFFS(t, mnt)
	if lost, err := m.CheckRoot(); err != nil || !strings.Contains(lost, "unmounted") {
		t.Fatalf("CheckRoot once a BPF filesystem is back = %q, %v", lost, err)
	}
	assertAlive(t, apply(t, m, p))
}

// A pin root removed by hand (its bpffs still mounted) is made again.
func TestPinRootRemoved(t *testing.T) {
	m, root := setup(t)
	first := apply(t, m, counter("uid-a", "r1"))
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	assertGone(t, first)
	if lost, err := m.CheckRoot(); err != nil || !strings.Contains(lost, "pins were removed") {
		t.Fatalf("CheckRoot = %q, %v", lost, err)
	}
	assertAlive(t, apply(t, m, counter("uid-a", "r1")))
}

func assertReason(t *testing.T, what string, err error, reason string) {
	t.Helper()
	var perr *programs.Error
	if !errors.As(err, &perr) || perr.Reason != reason {
		t.Fatalf("%s: %v, want reason %s", what, err, reason)
	}
}
