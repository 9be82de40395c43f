package programs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

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

// checked is a pinned revision found to be its application's, or loaded
// as it: the revision directory and its programs' kernel IDs.
type checked struct {
	dir string
	ids string
}

// trust reports whether progs, pinned in dir and described by ld, may be
// adopted as p's revision: the type and name of each are those of the
// program p's object gives, and so is its tag where the kernel's tag can
// be computed from the object. Each revision is checked once: the answer
// is kept for p.UID until other programs are pinned there.
func (m *Manager) trust(ctx context.Context, p Program, dir pins.Dir, progs map[string]*ebpf.Program, ld Loaded) bool {
	if m.checked[p.UID] == (checked{string(dir), idsOf(ld)}) {
		return true
	}
	if err := matches(p, progs); err != nil {
		log.FromContext(ctx).Info("not adopting a pinned program: replacing it with the revision loaded anew",
			"uid", p.UID, "revision", p.Revision.String(), "programIDs", idsOf(ld), "reason", err.Error())
		return false
	}
	m.remember(p.UID, dir, ld)
	return true
}

// remember notes that the programs of ld pinned in dir are uid's revision.
func (m *Manager) remember(uid string, dir pins.Dir, ld Loaded) {
	if m.checked == nil {
		m.checked = map[string]checked{}
	}
	m.checked[uid] = checked{string(dir), idsOf(ld)}
}

// idsOf lists the kernel IDs of ld's programs, by name: "a=12,b=13".
func idsOf(ld Loaded) string {
	parts := make([]string, 0, len(ld.Programs))
	for _, name := range slices.Sorted(maps.Keys(ld.Programs)) {
		parts = append(parts, name+"="+strconv.FormatUint(uint64(ld.Programs[name].ID), 10))
	}
	return strings.Join(parts, ",")
}

// forget drops what trust remembers of the uids not in keep.
func (m *Manager) forget(keep func(uid string) bool) {
	for uid := range m.checked {
		if !keep(uid) {
			delete(m.checked, uid)
		}
	}
}

// matches checks each program of progs against the program of that name
// p's object gives.
func matches(p Program, progs map[string]*ebpf.Program) error {
	spec, err := loader.SpecOf(p.Object, p.names(), p.GlobalData)
	if err != nil {
		return err
	}
	for _, name := range p.names() {
		if err := matchesOne(spec, spec.Programs[name], progs[name]); err != nil {
			return fmt.Errorf("program %s: %w", name, err)
		}
	}
	return nil
}

// matchesOne checks prog against ps, a program of spec.
func matchesOne(spec *ebpf.CollectionSpec, ps *ebpf.ProgramSpec, prog *ebpf.Program) error {
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
