package pins_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/internal/testkernel"
	"github.com/cilium/ebpf"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

func TestEnsureMounted(t *testing.T) {
	testkernel.Require(t)
	if err := pins.EnsureMounted(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{pins.BPFFSPath, pins.TracefsPath} {
		if _, err := os.Stat(dir); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := pins.IsBPFFS(pins.BPFFSPath); !ok || err != nil {
		t.Fatalf("IsBPFFS(%s) = %v, %v after EnsureMounted", pins.BPFFSPath, ok, err)
	}
	if err := pins.EnsureMounted(); err != nil {
		t.Fatalf("second EnsureMounted: %v", err)
	}
}

func TestMountBPFFSPrivate(t *testing.T) {
	testkernel.Require(t)
	dir := filepath.Join(testkernel.TempBPFFS(t), "nested")
	if err := pins.MountBPFFS(dir); err != nil {
		t.Fatal(err)
	}
	if ok, _ := pins.IsBPFFS(dir); !ok {
		t.Fatalf("%s is not on bpffs", dir)
	}
}

func TestInitRejectsNonBPFFS(t *testing.T) {
	if err := (pins.Layout{Root: t.TempDir()}).Init(); err == nil {
		t.Fatal("Init on a plain directory succeeded")
	}
}

func TestListRemovePrune(t *testing.T) {
	testkernel.Require(t)
	l := newLayout(t)
	pinMap(t, l.Revision("uid-a", "r1").Map("counts"))
	pinMap(t, l.Revision("uid-a", "r2").Map("counts"))
	pinMap(t, l.Staging("uid-a", "r3").Map("counts"))
	pinMap(t, l.Revision("uid-b", "r1").Map(".rodata"))
	pinMap(t, filepath.Join(l.Root, "junk~", "x"))

	assertList(t, l, "uid-a/r1", "uid-a/r2", "uid-b/r1")
	names, err := l.Revision("uid-b", "r1").MapNames()
	if err != nil || !slices.Equal(names, []string{".rodata"}) {
		t.Fatalf("MapNames = %v, %v", names, err)
	}

	mustDo(t, l.RemoveOtherRevisions("uid-a", "r2"))
	assertList(t, l, "uid-a/r2", "uid-b/r1")
	assertGone(t, string(l.Staging("uid-a", "r3")))

	mustDo(t, l.Prune(map[string]bool{"uid-a": true}))
	assertList(t, l, "uid-a/r2")
	assertGone(t, filepath.Join(l.Root, "junk~"))

	mustDo(t, l.RemoveRevision("uid-a", "r2"))
	assertList(t, l)
	mustDo(t, l.RemoveUID("uid-a"))
	assertGone(t, l.UIDDir("uid-a"))
}

// Prune removes the staging directories an install cut short left in the
// uids it keeps, and nothing published.
func TestPruneRemovesStaging(t *testing.T) {
	testkernel.Require(t)
	l := newLayout(t)
	pinMap(t, l.Revision("uid-a", "r1").Map("counts"))
	pinMap(t, l.Staging("uid-a", "r2").Map("counts"))
	mustDo(t, l.Prune(map[string]bool{"uid-a": true}))
	assertGone(t, string(l.Staging("uid-a", "r2")))
	assertList(t, l, "uid-a/r1")
}

func TestPublish(t *testing.T) {
	testkernel.Require(t)
	l := newLayout(t)
	pinMap(t, l.Staging("u", "r").Map("m"))
	assertList(t, l)
	mustDo(t, l.Publish("u", "r"))
	assertList(t, l, "u/r")
}

func TestRejectsUnsafeNames(t *testing.T) {
	l := pins.Layout{Root: t.TempDir()}
	for _, err := range []error{
		l.RemoveUID("../x"),
		l.RemoveRevision("u", ".."),
		l.RemoveOtherRevisions("u/v", "r"),
	} {
		if err == nil {
			t.Error("unsafe name accepted")
		}
	}
	if _, err := l.Revisions(".."); err == nil {
		t.Error("Revisions(..) accepted")
	}
}

func newLayout(t *testing.T) pins.Layout {
	t.Helper()
	l := pins.Layout{Root: filepath.Join(testkernel.TempBPFFS(t), "bpfleet")}
	mustDo(t, l.Init())
	return l
}

func pinMap(t *testing.T, path string) {
	t.Helper()
	mustDo(t, os.MkdirAll(filepath.Dir(path), 0o700))
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mustDo(t, m.Pin(path))
}

func assertList(t *testing.T, l pins.Layout, want ...string) {
	t.Helper()
	entries, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.UID+"/"+e.Revision)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
}

func assertGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s still exists (stat: %v)", path, err)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDefaultMountAt(t *testing.T) {
	for root, want := range map[string]string{
		pins.DefaultRoot:     pins.BPFFSPath,
		"/sys/fs/bpf/a/b":    pins.BPFFSPath,
		"/sys/fs/bpfx/a":     "",
		"/run/bpf/bpfleet":   "",
		"/sys/fs/bpf/../etc": "",
	} {
		if got := pins.DefaultMountAt(root); got != want {
			t.Errorf("DefaultMountAt(%s) = %q, want %q", root, got, want)
		}
	}
}

// A mount point that is not the root or above it is refused: mounting
// there would not give the root a BPF filesystem.
func TestInitRefusesMountAtBelowRoot(t *testing.T) {
	root := t.TempDir()
	for _, at := range []string{filepath.Join(root, "sub"), "/elsewhere", "relative"} {
		if err := (pins.Layout{Root: root, MountAt: at}).Init(); err == nil || !strings.Contains(err.Error(), "mount point") {
			t.Errorf("MountAt %s: %v, want refused", at, err)
		}
	}
}
