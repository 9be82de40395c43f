package programs

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// MapConfig configures one map of a program before load.
type MapConfig struct {
	MaxEntries uint32 // 0: as in the ELF
	// Shared names a node-wide map ([A-Za-z0-9_.-], e.g. the MapPolicy's
	// name): every program whose config names the same Shared uses one
	// map, pinned under <root>/shared/<Shared>. The first program to load
	// creates it from its spec; a later one whose map differs (type, key
	// or value size, max_entries, flags) fails with MapIncompatible.
	Shared string
}

func checkMaps(configs map[string]MapConfig) error {
	for name, c := range configs {
		if err := pins.ValidateMapName(name); err != nil {
			return err
		}
		if c.Shared == "" {
			continue
		}
		if err := pins.ValidateSharedName(c.Shared); err != nil {
			return fmt.Errorf("map %s: %w", name, err)
		}
	}
	return nil
}

// replacements are the maps a load uses in place of its own, by ELF map
// name (the shared maps, and the running revision's maps it reuses: see
// reuse), and the names of the shared maps it created (made).
type replacements struct {
	replace map[string]*ebpf.Map
	made    []string
}

// close closes the maps in replace (a load uses clones of them).
func (s *replacements) close() {
	for _, mp := range s.replace {
		mp.Close()
	}
}

// configureMaps applies p.Maps to spec: it sets max_entries, then opens
// each shared map, creating and pinning it from spec if it does not exist
// yet, after checking that it fits spec. On error too, s lists the shared
// maps it made; the caller closes s.
func (m *Manager) configureMaps(p Program, spec *ebpf.CollectionSpec) (*replacements, error) {
	s := &replacements{replace: map[string]*ebpf.Map{}}
	sizes := make(map[string]uint32, len(p.Maps))
	for name, c := range p.Maps {
		sizes[name] = c.MaxEntries
	}
	if err := loader.SetMaxEntries(spec, p.names(), sizes); err != nil {
		return s, err
	}
	for _, name := range slices.Sorted(maps.Keys(p.Maps)) {
		if shared := p.Maps[name].Shared; shared != "" {
			if err := m.openShared(s, name, shared, spec.Maps[name]); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}

func (m *Manager) openShared(s *replacements, name, shared string, ms *ebpf.MapSpec) error {
	mp, made, err := m.loadOrCreateShared(shared, ms)
	if made {
		s.made = append(s.made, shared)
	}
	if err != nil {
		return err
	}
	if err := loader.CheckCompatible(ms, mp, shared); err != nil {
		mp.Close()
		return err
	}
	s.replace[name] = mp
	return nil
}

// loadOrCreateShared opens the shared map, or creates it from ms and pins
// it (made). Pinning is atomic: a map pinned meanwhile by someone else
// wins, and is opened instead.
func (m *Manager) loadOrCreateShared(shared string, ms *ebpf.MapSpec) (mp *ebpf.Map, made bool, err error) {
	path := m.layout.Shared(shared)
	if mp, err = ebpf.LoadPinnedMap(path, nil); !errors.Is(err, os.ErrNotExist) {
		return mp, false, sharedError(shared, err)
	}
	if err := m.layout.InitShared(); err != nil {
		return nil, false, err
	}
	if mp, err = ebpf.NewMap(ms); err != nil {
		return nil, false, loader.Errorf(loader.ReasonLoadFailed, "create shared map %s for map %q: %w", shared, ms.Name, err)
	}
	err = mp.Pin(path)
	if errors.Is(err, os.ErrExist) {
		mp.Close()
		mp, err = ebpf.LoadPinnedMap(path, nil)
		return mp, false, sharedError(shared, err)
	}
	if err != nil {
		mp.Close()
		return nil, false, sharedError(shared, err)
	}
	return mp, true, nil
}

func sharedError(shared string, err error) error {
	if err != nil {
		return fmt.Errorf("shared map %s: %w", shared, err)
	}
	return nil
}

// unpinShared unpins the shared maps made by an install that failed with
// err, and returns err with any failure to do so.
func (m *Manager) unpinShared(err error, made []string) error {
	if len(made) == 0 {
		return err
	}
	errs := []error{err}
	for _, name := range made {
		errs = append(errs, m.layout.RemoveShared(name))
	}
	return errors.Join(errs...)
}

// configuredShared lists p's shared maps, by ELF map name.
func configuredShared(p Program) map[string]string {
	var out map[string]string
	for name, c := range p.Maps {
		if c.Shared != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = c.Shared
		}
	}
	return out
}
