package pins_test

import (
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// TestSharedDir checks that the shared maps' directory is no program's:
// List skips it, Prune keeps it, and no uid may take its name.
func TestSharedDir(t *testing.T) {
	testkernel.Require(t)
	l := newLayout(t)
	pinMap(t, l.Revision("uid-a", "r1").Map("counts"))
	mustDo(t, l.InitShared())
	pinMap(t, l.Shared("policy.v1"))
	assertList(t, l, "uid-a/r1")
	mustDo(t, l.Prune(nil))
	assertList(t, l)
	names, err := l.SharedNames()
	if err != nil || len(names) != 1 || names[0] != "policy.v1" {
		t.Fatalf("SharedNames = %v, %v; want [policy.v1]", names, err)
	}
	mustDo(t, l.RemoveShared("policy.v1"))
	assertGone(t, l.SharedDir())
	for _, err := range []error{pins.ValidateUID("shared"), l.RemoveUID("shared"), pins.ValidateSharedName(".."), pins.ValidateSharedName("a/b")} {
		if err == nil {
			t.Error("reserved or unsafe name accepted")
		}
	}
}
