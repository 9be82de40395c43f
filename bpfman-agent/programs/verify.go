package programs

import (
	"context"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// objNameLen is how much of a program's name the kernel keeps
// (BPF_OBJ_NAME_LEN less the NUL).
const objNameLen = 15

// errImpostor: the program pinned for a revision is not the one its
// object and program name give.
var errImpostor = errors.New("the pinned program is not the revision's")

// checked is a pinned program found to be its revision's, or loaded as
// it: the revision directory and the program's kernel ID.
type checked struct {
	dir string
	id  uint32
}

// trust reports whether prog, pinned in dir with kernel ID id, may be
// adopted as p's revision: its type and name are those of the program p's
// object gives, and so is its tag where the kernel's tag can be computed
// from the object. Each program is checked once: the answer is kept for
// p.UID until another program is pinned there.
func (m *Manager) trust(ctx context.Context, p Program, dir pins.Dir, prog *ebpf.Program, id uint32) bool {
	if m.checked[p.UID] == (checked{string(dir), id}) {
		return true
	}
	if err := matches(p, prog); err != nil {
		log.FromContext(ctx).Info("not adopting a pinned program: replacing it with the revision loaded anew",
			"uid", p.UID, "revision", p.Revision.String(), "programID", id, "reason", err.Error())
		return false
	}
	m.remember(p.UID, dir, id)
	return true
}

// remember notes that the program id pinned in dir is p.UID's revision.
func (m *Manager) remember(uid string, dir pins.Dir, id uint32) {
	if m.checked == nil {
		m.checked = map[string]checked{}
	}
	m.checked[uid] = checked{string(dir), id}
}

// forget drops what trust remembers of the uids not in keep.
func (m *Manager) forget(keep func(uid string) bool) {
	for uid := range m.checked {
		if !keep(uid) {
			delete(m.checked, uid)
		}
	}
}

// matches checks prog against the program p's object gives.
func matches(p Program, prog *ebpf.Program) error {
	spec, err := loader.Spec(p.Object, p.ProgramName, p.GlobalData)
	if err != nil {
		return err
	}
	ps := spec.Programs[p.ProgramName]
	info, err := prog.Info()
	if err != nil {
		return fmt.Errorf("program info: %w", err)
	}
	want := ps.Name[:min(len(ps.Name), objNameLen)]
	switch {
	case info.Type != ps.Type:
		return fmt.Errorf("%w: type %s, want %s", errImpostor, info.Type, ps.Type)
	case info.Name != "" && info.Name != want:
		return fmt.Errorf("%w: name %q, want %q", errImpostor, info.Name, want)
	case tagKnown(spec, ps) && ps.Compatible(info) != nil:
		return fmt.Errorf("%w: tag %s differs from the object's", errImpostor, info.Tag)
	}
	return nil
}

// tagKnown reports whether the kernel's tag of ps, once loaded, can be
// computed from ps: map references and constants (which live in .rodata)
// are left out of the tag by the kernel, and calls to its own functions
// are fixed in the object; but cilium/ebpf rewrites CO-RE relocations,
// kfunc calls and kernel symbols for the running kernel at load, so the
// tag of a program using them may differ from its spec's.
func tagKnown(spec *ebpf.CollectionSpec, ps *ebpf.ProgramSpec) bool {
	for i := range ps.Instructions {
		ins := &ps.Instructions[i]
		ref := ins.Reference()
		switch {
		case btf.CORERelocationMetadata(ins) != nil, ins.IsKfuncCall():
			return false
		case ref != "" && spec.Maps[ref] == nil && !ins.IsFunctionReference():
			return false
		}
	}
	return true
}
