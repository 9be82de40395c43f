package programs_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A program pinned in place of a revision's (another object's, or the
// same name and type with other code) is not adopted: Apply loads the
// revision anew, moves the hook to it and removes the impostor with its
// pins; the right program runs, checked by name, type and tag.
func TestAdoptRefusesImpostor(t *testing.T) {
	for name, impostor := range map[string]func(*testing.T) *ebpf.Program{
		"another object":        func(t *testing.T) *ebpf.Program { return loadSpec(t, bpf.XDPCounter, "xdp_count", nil) },
		"same name, other code": func(t *testing.T) *ebpf.Program { return loadSpec(t, bpf.TracepointCounter, "count_openat", retOne) },
	} {
		t.Run(name, func(t *testing.T) {
			m, root := setup(t)
			p := counter("uid-a", "r1")
			first := apply(t, m, p)
			fake := impostor(t)
			fakeID := progID(t, fake)
			pinAt(t, fake, filepath.Join(first.PinDir, "progs", "count_openat"))

			got := apply(t, m, p)
			if got.Adopted || sole(got).ID == fakeID || sole(got).ID == sole(first).ID {
				t.Fatalf("after the impostor %d was pinned: %+v, want r1 loaded anew", fakeID, got)
			}
			assertRuns(t, sole(got).Links["main"].ID, sole(got).ID, p.Object, p.Programs[0].Name)
			entries, _ := os.ReadDir(filepath.Join(root, "uid-a"))
			if len(entries) != 1 || entries[0].Name() != "r1" {
				t.Fatalf("pins of uid-a: %v, want r1 only", entries)
			}
			fake.Close()
			for what, id := range map[string]uint32{"impostor": fakeID, "first program": sole(first).ID} {
				if err := eventuallyGone(programExists, id); err != nil {
					t.Errorf("%s %d: %v, want unloaded", what, id, err)
				}
			}
			if err := eventuallyGone(linkExists, sole(first).Links["main"].ID); err != nil {
				t.Errorf("first link %d: %v, want detached", sole(first).Links["main"].ID, err)
			}
			before := testkernel.MapValue(t, got.Maps["counts"], uint32(os.Getpid()))
			testkernel.OpenFiles(t, 3)
			if n := testkernel.MapValue(t, got.Maps["counts"], uint32(os.Getpid())) - before; n < 3 {
				t.Errorf("the reloaded program counted %d of 3 opens", n)
			}
			again := apply(t, newManager(t, root), p)
			if !again.Adopted || sole(again).ID != sole(got).ID {
				t.Errorf("a restarted agent: %+v, want program %d adopted", again, sole(got).ID)
			}
		})
	}
}

// assertRuns checks that link linkID runs program progID, whose name,
// type and tag are those of program name in obj.
func assertRuns(t *testing.T, linkID, progID uint32, obj []byte, name string) {
	t.Helper()
	l, err := link.NewFromID(link.ID(linkID))
	if err != nil {
		t.Fatalf("link %d: %v", linkID, err)
	}
	defer l.Close()
	li, err := l.Info()
	if err != nil || uint32(li.Program) != progID {
		t.Fatalf("link %d runs program %v (%v), want %d", linkID, li, err, progID)
	}
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(progID))
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	ps := spec.Programs[name]
	if info.Name != name || info.Type != ps.Type || ps.Compatible(info) != nil {
		t.Fatalf("program %d: name %q, type %s, tag %s; want %q, %s and the object's tag", progID, info.Name, info.Type, info.Tag, name, ps.Type)
	}
}

// retOne makes a program return 1 instead of 0: other code, same name.
func retOne(t *testing.T, ps *ebpf.ProgramSpec) {
	t.Helper()
	i := slices.IndexFunc(ps.Instructions, func(ins asm.Instruction) bool { return ins.OpCode.JumpOp() == asm.Exit })
	if i < 1 || ps.Instructions[i-1].OpCode.ALUOp() != asm.Mov || ps.Instructions[i-1].Dst != asm.R0 {
		t.Fatalf("no r0 = imm before exit: %v", ps.Instructions)
	}
	ps.Instructions[i-1].Constant++
}

// loadSpec loads program name of obj, changed by edit, and returns it
// (closed with the test).
func loadSpec(t *testing.T, obj []byte, name string, edit func(*testing.T, *ebpf.ProgramSpec)) *ebpf.Program {
	t.Helper()
	spec, err := loader.Spec(obj, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(t, spec.Programs[name])
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	prog := coll.DetachProgram(name)
	coll.Close()
	t.Cleanup(func() { prog.Close() })
	return prog
}

// pinAt pins prog at path, in place of what is pinned there.
func pinAt(t *testing.T, prog *ebpf.Program, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := prog.Pin(path); err != nil {
		t.Fatal(err)
	}
}
