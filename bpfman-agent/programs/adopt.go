package programs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// adopt takes over p's revision from its pins, if its program is pinned,
// alive and p's own (ok), and brings its links in line with p.Attach. A
// pinned program that is not p's is set aside, for install to replace.
func (m *Manager) adopt(ctx context.Context, p Program) (ld Loaded, ok bool, err error) {
	dir := m.layout.Revision(p.UID, p.Revision.String())
	prog, err := ebpf.LoadPinnedProgram(dir.Prog(), nil)
	if err != nil {
		return Loaded{}, false, nil
	}
	defer prog.Close()
	ld, err = describeProgram(pins.Entry{UID: p.UID, Revision: p.Revision.String(), Dir: dir}, prog)
	if err != nil {
		return Loaded{}, false, nil
	}
	if !m.trust(ctx, p, dir, prog, ld.ProgramID) {
		return Loaded{}, false, m.setAside(p)
	}
	ld.Shared = configuredShared(p)
	ld.Links, err = syncLinks(p, dir, prog, ld.ProgramID)
	return ld, true, err
}

// setAside renames p's revision, whose pinned program is not its own, so
// that install takes its links over as from a running revision (in place
// where the hook allows): the hook never goes empty, and Apply then
// removes it with the other revisions. Its name is a revision's that no
// code hash can take, with the same Links part.
func (m *Manager) setAside(p Program) error {
	aside := Revision{Code: p.Revision.Code + "_replaced", Links: p.Revision.Links}
	return m.layout.Move(p.UID, p.Revision.String(), aside.String())
}

// syncLinks detaches the links pinned in dir whose target is gone from
// p.Attach, drops the dead ones, and attaches prog to the targets left
// without a link.
func syncLinks(p Program, dir pins.Dir, prog *ebpf.Program, progID uint32) (map[string]LinkInfo, error) {
	pinned, err := pinnedLinks(dir)
	if err != nil {
		return nil, err
	}
	defer closeLinks(pinned)
	out := make(map[string]LinkInfo, len(p.Attach))
	for key, l := range pinned {
		spec := p.Attach[key]
		if spec == nil || !reclaim(l, prog, progID) {
			if err := l.Unpin(); err != nil {
				return nil, fmt.Errorf("unpin link %s: %w", key, err)
			}
			continue
		}
		if out[key], err = linkInfo(spec, l, spec.String()); err != nil {
			return nil, err
		}
	}
	return out, attachMissing(p, dir, prog, out)
}

// reclaim reports whether l, a link pinned in the adopted revision, is
// live and runs its program progID, moving it back in place if it runs
// another: an install cut short after link.Update had moved it to the
// new revision's program leaves it so. The hook stays occupied.
func reclaim(l link.Link, prog *ebpf.Program, progID uint32) bool {
	if live(l, progID) {
		return true
	}
	return live(l, 0) && l.Update(prog) == nil
}

// attachMissing attaches prog to the targets of p not in have, pins the
// links in dir and adds them to have.
func attachMissing(p Program, dir pins.Dir, prog *ebpf.Program, have map[string]LinkInfo) error {
	if err := os.MkdirAll(dir.Links(), 0o700); err != nil {
		return fmt.Errorf("pin: %w", err)
	}
	for _, key := range slices.Sorted(maps.Keys(p.Attach)) {
		if _, ok := have[key]; ok {
			continue
		}
		info, err := attachPinned(p.Attach[key], prog, dir.Link(key))
		if err != nil {
			return fmt.Errorf("target %s: %w", key, err)
		}
		have[key] = info
	}
	return nil
}

// attachPinned attaches prog to spec and pins the link at path. The link
// is detached again unless it is pinned.
func attachPinned(spec attach.Spec, prog *ebpf.Program, path string) (LinkInfo, error) {
	a, err := spec.Attach(prog)
	if err != nil {
		return LinkInfo{}, attachError(err)
	}
	defer a.Link.Close()
	if err := a.Link.Pin(path); err != nil {
		return LinkInfo{}, fmt.Errorf("pin link: %w", err)
	}
	return linkInfo(spec, a.Link, a.Detail)
}

// describe reads the IDs of what e's pins hold: the program, its maps,
// and its live links (without Detail, which needs the hook).
func describe(e pins.Entry) (Loaded, error) {
	prog, err := ebpf.LoadPinnedProgram(e.Dir.Prog(), nil)
	if err != nil {
		return Loaded{}, fmt.Errorf("load pinned program: %w", err)
	}
	defer prog.Close()
	ld, err := describeProgram(e, prog)
	if err != nil {
		return ld, err
	}
	pinned, err := pinnedLinks(e.Dir)
	defer closeLinks(pinned)
	for key, l := range pinned {
		if info, ierr := l.Info(); ierr == nil && live(l, ld.ProgramID) {
			ld.Links[key] = LinkInfo{ID: uint32(info.ID)}
		}
	}
	return ld, err
}

func describeProgram(e pins.Entry, prog *ebpf.Program) (Loaded, error) {
	progID, err := programID(prog)
	if err != nil {
		return Loaded{}, err
	}
	maps, err := pinnedMapIDs(e.Dir)
	return Loaded{UID: e.UID, Revision: e.Revision, ProgramID: progID, Links: map[string]LinkInfo{},
		Maps: maps, PinDir: string(e.Dir), Adopted: true}, err
}

func pinnedMapIDs(dir pins.Dir) (map[string]uint32, error) {
	names, err := dir.MapNames()
	if err != nil {
		return nil, err
	}
	ids := make(map[string]uint32, len(names))
	for _, name := range names {
		if ids[name], err = pinnedID(dir.Map(name)); err != nil {
			return nil, fmt.Errorf("pinned map %s: %w", name, err)
		}
	}
	return ids, nil
}

// programID is prog's kernel ID (see objectID: Program.Info also reads
// the program's /proc fdinfo).
func programID(prog *ebpf.Program) (uint32, error) {
	return objectID(prog.FD())
}

func mapID(m *ebpf.Map) (uint32, error) {
	info, err := m.Info()
	if err != nil {
		return 0, fmt.Errorf("map info: %w", err)
	}
	id, ok := info.ID()
	if !ok {
		return 0, errors.New("map info: no ID")
	}
	return uint32(id), nil
}
