package attach_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

// testSpec runs the life cycle every attacher must support: attach, pin,
// adopt from the pin after a "restart", update to a new program, detach,
// and no pin or kernel object left behind.
func testSpec(t *testing.T, spec attach.Spec) {
	testkernel.Require(t)
	if spec.String() == "" {
		t.Error("String() is empty")
	}
	dir := filepath.Join(testkernel.TempBPFFS(t), "pins")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}

	first := program(t, spec.ProgramType())
	linkID := attachAndPin(t, spec, first, filepath.Join(dir, "link"))
	adopted := adopt(t, filepath.Join(dir, "link"), linkID)

	second := program(t, spec.ProgramType())
	ids := update(t, spec, adopted, second, dir)
	adopted.Close()

	for _, name := range []string{"link", "link2"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	assertEmpty(t, dir)
	for _, id := range ids {
		assertLinkGone(t, id)
	}
}

func program(t *testing.T, typ ebpf.ProgramType) *ebpf.Program {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         typ,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

func attachAndPin(t *testing.T, spec attach.Spec, prog *ebpf.Program, path string) link.ID {
	t.Helper()
	a, err := spec.Attach(prog)
	if err != nil {
		t.Fatalf("attach %s: %v", spec, err)
	}
	if a.Detail == "" {
		t.Errorf("attach %s: empty Detail", spec)
	}
	l := a.Link
	defer l.Close()
	if err := l.Pin(path); err != nil {
		t.Fatalf("pin %s: %v", spec, err)
	}
	return linkID(t, l)
}

// adopt loads a pinned link the way a restarted agent does.
func adopt(t *testing.T, path string, want link.ID) link.Link {
	t.Helper()
	l, err := link.LoadPinnedLink(path, nil)
	if err != nil {
		t.Fatalf("adopt pinned link: %v", err)
	}
	if got := linkID(t, l); got != want {
		t.Fatalf("adopted link ID %d, want %d", got, want)
	}
	return l
}

// update moves old to prog: in place where the hook supports it, else by
// attaching a second link before detaching the first (what the agent
// does). It returns the IDs of every link it saw.
func update(t *testing.T, spec attach.Spec, old link.Link, prog *ebpf.Program, dir string) []link.ID {
	t.Helper()
	ids := []link.ID{linkID(t, old)}
	err := old.Update(prog)
	if errors.Is(err, ebpf.ErrNotSupported) {
		ids = append(ids, attachAndPin(t, spec, prog, filepath.Join(dir, "link2")))
		return ids
	}
	if err != nil {
		t.Fatalf("update %s: %v", spec, err)
	}
	info, err := old.Info()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Program, progID(t, prog); got != want {
		t.Fatalf("link runs program %d after update, want %d", got, want)
	}
	return ids
}

func linkID(t *testing.T, l link.Link) link.ID {
	t.Helper()
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

func progID(t *testing.T, p *ebpf.Program) ebpf.ProgramID {
	t.Helper()
	info, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return id
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) > 0 {
		t.Fatalf("pins left in %s: %v %v", dir, entries, err)
	}
}

func assertLinkGone(t *testing.T, id link.ID) {
	t.Helper()
	l, err := link.NewFromID(id)
	if err == nil {
		l.Close()
		t.Fatalf("link %d still in the kernel after detach", id)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("link %d: %v, want not-exist", id, err)
	}
}
