package programs

import (
	"errors"
	"fmt"

	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// adopt describes revision rev of uid from its pins, if they hold a
// program and a link running it.
func (m *Manager) adopt(uid, rev string) (Loaded, error) {
	return describe(pins.Entry{UID: uid, Revision: rev, Dir: m.layout.Revision(uid, rev)})
}

// describe reads the IDs of what e's pins hold, checking that the pinned
// link runs the pinned program.
func describe(e pins.Entry) (Loaded, error) {
	progID, err := pinnedProgramID(e.Dir.Prog())
	if err != nil {
		return Loaded{}, err
	}
	l, err := link.LoadPinnedLink(e.Dir.Link(), nil)
	if err != nil {
		return Loaded{}, fmt.Errorf("load pinned link: %w", err)
	}
	defer l.Close()
	info, err := l.Info()
	if err != nil {
		return Loaded{}, fmt.Errorf("pinned link info: %w", err)
	}
	if uint32(info.Program) != progID {
		return Loaded{}, fmt.Errorf("pinned link runs program %d, not the pinned program %d", info.Program, progID)
	}
	maps, err := pinnedMapIDs(e.Dir)
	ld := Loaded{UID: e.UID, Revision: e.Revision, ProgramID: progID, LinkID: uint32(info.ID),
		Maps: maps, PinDir: string(e.Dir), Adopted: true}
	return ld, err
}

func pinnedProgramID(path string) (uint32, error) {
	prog, err := ebpf.LoadPinnedProgram(path, nil)
	if err != nil {
		return 0, fmt.Errorf("load pinned program: %w", err)
	}
	defer prog.Close()
	return programID(prog)
}

func pinnedMapIDs(dir pins.Dir) (map[string]uint32, error) {
	names, err := dir.MapNames()
	if err != nil {
		return nil, err
	}
	ids := make(map[string]uint32, len(names))
	for _, name := range names {
		m, err := ebpf.LoadPinnedMap(dir.Map(name), nil)
		if err != nil {
			return nil, fmt.Errorf("load pinned map %s: %w", name, err)
		}
		ids[name], err = mapID(m)
		m.Close()
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func programID(prog *ebpf.Program) (uint32, error) {
	info, err := prog.Info()
	if err != nil {
		return 0, fmt.Errorf("program info: %w", err)
	}
	id, ok := info.ID()
	if !ok {
		return 0, errors.New("program info: no ID")
	}
	return uint32(id), nil
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
