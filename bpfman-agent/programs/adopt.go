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

// adopt takes over p's revision from its pins, if its programs are
// pinned, alive and p's own (ok), and brings their links in line with p's
// targets. A pinned revision whose programs are not p's, or pinned the
// legacy way, is set aside, for install to replace.
func (m *Manager) adopt(ctx context.Context, p Program) (ld Loaded, ok bool, err error) {
	dir := m.layout.Revision(p.UID, p.Revision.String())
	if _, err := os.Stat(dir.LegacyProg()); err == nil {
		return Loaded{}, false, m.setAside(p)
	}
	progs, err := openPrograms(dir, p.names())
	if err != nil {
		return Loaded{}, false, nil
	}
	defer closePrograms(progs)
	ld, err = describePrograms(pins.Entry{UID: p.UID, Revision: p.Revision.String(), Dir: dir}, progs)
	if err != nil {
		return Loaded{}, false, nil
	}
	if !m.trust(ctx, p, dir, progs, ld) {
		return Loaded{}, false, m.setAside(p)
	}
	ld.Shared = configuredShared(p)
	err = syncLinks(p, dir, progs, ld.Programs)
	return ld, true, err
}

// setAside renames p's revision, whose pinned programs are not its own,
// so that install takes its links over as from a running revision (in
// place where the hook allows): the hook never goes empty, and Apply then
// removes it with the other revisions. Its name is a revision's that no
// code hash can take, with the same Links part.
func (m *Manager) setAside(p Program) error {
	aside := Revision{Code: p.Revision.Code + "_replaced", Links: p.Revision.Links}
	return m.layout.Move(p.UID, p.Revision.String(), aside.String())
}

// openPrograms opens the programs names pinned in dir; the caller closes
// them. It fails if one is not pinned.
func openPrograms(dir pins.Dir, names []string) (map[string]*ebpf.Program, error) {
	out := make(map[string]*ebpf.Program, len(names))
	for _, name := range names {
		prog, err := ebpf.LoadPinnedProgram(dir.Prog(name), nil)
		if err != nil {
			closePrograms(out)
			return nil, fmt.Errorf("load pinned program %s: %w", name, err)
		}
		out[name] = prog
	}
	return out, nil
}

func closePrograms(progs map[string]*ebpf.Program) {
	for _, p := range progs {
		p.Close()
	}
}

// syncLinks detaches the links pinned in dir whose program or target is
// gone from p, drops the dead ones, and attaches each program to its
// targets left without a link. It fills the links of each program in ld.
func syncLinks(p Program, dir pins.Dir, progs map[string]*ebpf.Program, ld map[string]LoadedProgram) error {
	pinned, err := openLinks(dir, pins.LinkSet{})
	if err != nil {
		return err
	}
	defer closePinned(pinned)
	want := make(map[pins.LinkSet]Attachment, len(p.Programs))
	for _, a := range p.Programs {
		want[a.set()] = a
	}
	for _, pl := range pinned {
		a, ok := want[pl.set]
		spec := a.Attach[pl.target]
		if !ok || spec == nil || !reclaim(pl.link, progs[a.Name], ld[a.Name].ID) {
			if err := pl.link.Unpin(); err != nil {
				return fmt.Errorf("unpin link %s/%s: %w", pl.set.Program, pl.target, err)
			}
			continue
		}
		if ld[a.Name].Links[pl.target], err = linkInfo(spec, pl.link, spec.String()); err != nil {
			return err
		}
	}
	for _, a := range p.Programs {
		lp := ld[a.Name]
		if lp.Failed, err = attachMissing(a, dir, progs[a.Name], lp.Links); err != nil {
			return fmt.Errorf("program %s: %w", a.Name, err)
		}
		ld[a.Name] = lp
	}
	return removeEmptyLinkDirs(dir, want)
}

// removeEmptyLinkDirs removes the links directories in dir of programs
// not in want (their links are unpinned already).
func removeEmptyLinkDirs(dir pins.Dir, want map[pins.LinkSet]Attachment) error {
	sets, err := dir.LinkSets()
	for _, set := range sets {
		if _, ok := want[set]; !ok {
			err = errors.Join(err, os.RemoveAll(dir.ProgLinks(set)))
		}
	}
	return err
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

// attachMissing attaches prog to the targets of a not in have, pins the
// links in dir and adds them to have. It returns why the soft targets
// that failed did, by target.
func attachMissing(a Attachment, dir pins.Dir, prog *ebpf.Program, have map[string]LinkInfo) (map[string]string, error) {
	if err := os.MkdirAll(dir.ProgLinks(a.set()), 0o700); err != nil {
		return nil, fmt.Errorf("pin: %w", err)
	}
	var failed map[string]string
	for _, key := range slices.Sorted(maps.Keys(a.Attach)) {
		if _, ok := have[key]; ok {
			continue
		}
		info, err := attachPinned(a.Attach[key], prog, dir.Link(a.set(), key))
		if err != nil && a.Soft[key] {
			failed = softFailure(failed, key, err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", key, err)
		}
		have[key] = info
	}
	return failed, nil
}

// softFailure adds to failed that soft target key failed with err.
func softFailure(failed map[string]string, key string, err error) map[string]string {
	if failed == nil {
		failed = map[string]string{}
	}
	failed[key] = err.Error()
	return failed
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

// describe reads the IDs of what e's pins hold: the programs, their maps,
// and their live links (without Detail, which needs the hook). A legacy
// revision's one program is listed under the name "".
func describe(e pins.Entry) (Loaded, error) {
	progs, err := allPrograms(e.Dir)
	if err != nil {
		return Loaded{}, err
	}
	defer closePrograms(progs)
	ld, err := describePrograms(e, progs)
	if err != nil {
		return ld, err
	}
	pinned, err := openLinks(e.Dir, pins.LinkSet{})
	defer closePinned(pinned)
	for _, pl := range pinned {
		lp, ok := ld.Programs[pl.set.Program]
		if info, ierr := pl.link.Info(); ok && ierr == nil && live(pl.link, lp.ID) {
			lp.Links[pl.target] = LinkInfo{ID: uint32(info.ID)}
		}
	}
	return ld, err
}

// allPrograms opens every program pinned in dir: its progs/, or a legacy
// revision's one program as "".
func allPrograms(dir pins.Dir) (map[string]*ebpf.Program, error) {
	if prog, err := ebpf.LoadPinnedProgram(dir.LegacyProg(), nil); err == nil {
		return map[string]*ebpf.Program{"": prog}, nil
	}
	names, err := dir.ProgNames()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no program pinned", dir)
	}
	return openPrograms(dir, names)
}

// describePrograms describes the revision e whose programs are progs,
// without links.
func describePrograms(e pins.Entry, progs map[string]*ebpf.Program) (Loaded, error) {
	ld := Loaded{UID: e.UID, Revision: e.Revision, Programs: make(map[string]LoadedProgram, len(progs)),
		PinDir: string(e.Dir), Adopted: true}
	for name, prog := range progs {
		id, err := programID(prog)
		if err != nil {
			return Loaded{}, err
		}
		ld.Programs[name] = LoadedProgram{ID: id, Links: map[string]LinkInfo{}}
	}
	var err error
	ld.Maps, err = pinnedMapIDs(e.Dir)
	return ld, err
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

// mapID is m's kernel ID (as programID: Map.Info reads /proc fdinfo too).
func mapID(m *ebpf.Map) (uint32, error) {
	return objectID(m.FD())
}
