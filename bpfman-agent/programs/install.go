package programs

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/internal/faultpoint"
)

// install loads p as a new revision, moves every target of its programs
// to it from the running revision (see swap) and publishes its pins. On
// failure it rolls the moves back and removes what it made: closing the
// fds of what is not pinned unloads and detaches it; the maps it pinned
// by name are unpinned.
func (m *Manager) install(p Program) (Loaded, error) {
	byName, err := m.layout.ByNameMaps(p.UID)
	if err != nil {
		return Loaded{}, err
	}
	objs, made, err := m.load(p)
	if err != nil {
		return Loaded{}, m.unpinByName(m.unpinShared(err, made), p.UID, byName)
	}
	faultpoint.Point("load")
	defer objs.Close()
	mv, err := m.publish(p, objs)
	if err != nil {
		return Loaded{}, m.unpinByName(m.unpinShared(err, made), p.UID, byName)
	}
	return loaded(p, m.layout.Revision(p.UID, p.Revision.String()), objs, mv)
}

// publish stages the pins of p's new revision, fills its maps with the
// running revision's entries (see carry), moves every target to it and
// renames it into place. On failure it rolls the moves back and removes
// the revision.
func (m *Manager) publish(p Program, objs *loader.Collection) (moved, error) {
	staging := m.layout.Staging(p.UID, p.Revision.String())
	if err := m.stage(p, staging, objs); err != nil {
		return moved{}, errors.Join(err, m.layout.RemoveRevision(p.UID, p.Revision.String()))
	}
	faultpoint.Point("stage")
	s, err := m.newSwap(p, objs.Programs, staging)
	if err != nil {
		return moved{}, errors.Join(err, m.layout.RemoveRevision(p.UID, p.Revision.String()))
	}
	defer s.close()
	if err := m.carry(p, objs); err != nil {
		return moved{}, errors.Join(err, m.layout.RemoveRevision(p.UID, p.Revision.String()))
	}
	mv, err := s.run()
	if err == nil {
		faultpoint.Point("swap")
		err = m.layout.Publish(p.UID, p.Revision.String())
	}
	if err != nil {
		return moved{}, errors.Join(err, s.rollback(), m.layout.RemoveRevision(p.UID, p.Revision.String()))
	}
	faultpoint.Point("publish")
	return mv, nil
}

// stage pins the programs and their maps into a fresh staging directory
// (replacing a broken revision directory left by a crash). A shared map
// is pinned there too, under its ELF name: that pin is how Prune knows
// the revision uses it.
func (m *Manager) stage(p Program, dir pins.Dir, objs *loader.Collection) error {
	if err := m.layout.RemoveRevision(p.UID, p.Revision.String()); err != nil {
		return err
	}
	for _, d := range []string{dir.Maps(), dir.Links(), dir.Progs()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("pin: %w", err)
		}
	}
	for name, mp := range objs.Maps {
		if err := pinAlso(mp, dir.Map(name)); err != nil {
			return fmt.Errorf("pin map %s: %w", name, err)
		}
	}
	for name, prog := range objs.Programs {
		if err := prog.Pin(dir.Prog(name)); err != nil {
			return fmt.Errorf("pin program %s: %w", name, err)
		}
	}
	return nil
}

func loaded(p Program, dir pins.Dir, objs *loader.Collection, mv moved) (Loaded, error) {
	ld := Loaded{UID: p.UID, Revision: p.Revision.String(), PinDir: string(dir), Maps: make(map[string]uint32),
		Programs: make(map[string]LoadedProgram, len(objs.Programs)), Shared: configuredShared(p)}
	for name, prog := range objs.Programs {
		id, err := programID(prog)
		if err != nil {
			return ld, err
		}
		ld.Programs[name] = LoadedProgram{ID: id, Links: mv.links[name], Failed: mv.failed[name]}
	}
	var err error
	for name, mp := range objs.Maps {
		if ld.Maps[name], err = mapID(mp); err != nil {
			return ld, err
		}
	}
	return ld, nil
}

// programOf opens the program with the given ID.
func programOf(id uint32) (*ebpf.Program, error) {
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
	if err != nil {
		return nil, fmt.Errorf("program %d: %w", id, err)
	}
	return prog, nil
}
