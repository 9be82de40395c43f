package pins_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestByNameDir checks that a uid's maps pinned by name are no revision:
// List skips them, RemoveOtherRevisions and Prune keep them while the uid
// is kept, and they go with the uid.
func TestByNameDir(t *testing.T) {
	testkernel.Require(t)
	l := newLayout(t)
	pinMap(t, l.Revision("uid-a", "r1").Map("counts"))
	pinMap(t, l.Revision("uid-a", "r2").Map("counts"))
	mustDo(t, l.InitByName("uid-a"))
	pinMap(t, filepath.Join(l.ByName("uid-a"), "flows"))
	pinMap(t, filepath.Join(l.ByName("uid-b"), "flows"))
	assertList(t, l, "uid-a/r1", "uid-a/r2")

	mustDo(t, l.RemoveOtherRevisions("uid-a", "r2"))
	mustDo(t, l.Prune(map[string]bool{"uid-a": true}))
	assertList(t, l, "uid-a/r2")
	if names, err := l.ByNameMaps("uid-a"); err != nil || !slices.Equal(names, []string{"flows"}) {
		t.Fatalf("ByNameMaps = %v, %v; want [flows]", names, err)
	}
	assertGone(t, l.UIDDir("uid-b"))

	mustDo(t, l.RemoveUID("uid-a"))
	assertGone(t, l.ByName("uid-a"))
	for _, err := range []error{pins.ValidateRevision("by-name"), l.RemoveRevision("uid-a", "by-name"),
		l.RemoveOtherRevisions("uid-a", "by-name"), l.RemoveByName("uid-a", "../x")} {
		if err == nil {
			t.Error("reserved or unsafe name accepted")
		}
	}
}

// RemoveByName unpins one map and the directory once empty.
func TestRemoveByName(t *testing.T) {
	testkernel.Require(t)
	l := newLayout(t)
	pinMap(t, filepath.Join(l.ByName("u"), "a"))
	pinMap(t, filepath.Join(l.ByName("u"), "b"))
	mustDo(t, l.RemoveByName("u", "a"))
	assertGone(t, filepath.Join(l.ByName("u"), "a"))
	mustDo(t, l.RemoveByName("u", "b"))
	assertGone(t, l.ByName("u"))
}
