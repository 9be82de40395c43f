package programs

import (
	"context"
	"fmt"
	"strings"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// Program is one program the node must run.
type Program struct {
	UID string // program CR UID: pin dir name (validated)
	// Revision names what is loaded; a new one replaces the running one.
	Revision    Revision
	Object      []byte            // the ELF
	ProgramName string            // function name in the ELF
	GlobalData  map[string]string // see loader.SetGlobals
	// Attach maps a target key to its hook. The key names the link's pin,
	// <revision dir>/links/<key> (see pins.Dir.Link): "main" for a single
	// hook, an interface name for XDP or TCX; [A-Za-z0-9_.-]. Targets come and
	// go within a revision; Revision must not depend on them.
	Attach map[string]attach.Spec
	// Maps configures maps by name before load (see MapConfig). Their
	// settings must be part of Revision: a change reloads.
	Maps map[string]MapConfig
}

// Loaded is a program running in the kernel, as its pins describe it.
type Loaded struct {
	UID, Revision string
	ProgramID     uint32
	Links         map[string]LinkInfo // target key -> link
	Maps          map[string]uint32   // map name -> kernel map ID
	Shared        map[string]string   // map name -> shared map name, for shared maps
	PinDir        string              // <root>/<uid>/<revision>
	Adopted       bool                // the revision was running already, not loaded now
}

// LinkInfo is one link of a Loaded program.
type LinkInfo struct {
	ID     uint32
	Detail string // what status says about it, e.g. "mode=generic"
}

// Manager loads, adopts and removes programs under one pin root.
type Manager struct {
	layout pins.Layout
	loader *loader.Loader
	// checked is, by uid, the program last adopted or loaded: a pinned
	// program is checked against its spec once (see trust).
	checked map[string]checked
	// root is the pin root's state when last seen whole; rootErr, while
	// set, refuses every change, and lost says how the pins were lost
	// (see CheckRoot).
	root    pins.RootState
	rootErr error
	lost    string
}

// Option configures a Manager.
type Option func(*pins.Layout)

// MountBPFFSAt lets the Manager mount a BPF filesystem at dir, the pin
// root or an ancestor, when the root's is gone (see CheckRoot). The agent
// gives pins.DefaultMountAt of its root; without it, nothing is mounted.
func MountBPFFSAt(dir string) Option {
	return func(l *pins.Layout) { l.MountAt = dir }
}

// New mounts bpffs and tracefs where absent, creates root, which must lie
// on a BPF filesystem, and removes what installs cut short left there.
func New(root string, opts ...Option) (*Manager, error) {
	if err := pins.EnsureMounted(); err != nil {
		return nil, err
	}
	layout := pins.Layout{Root: root}
	for _, o := range opts {
		o(&layout)
	}
	if err := layout.Init(); err != nil {
		return nil, err
	}
	// No install runs yet: a staging directory is one a killed agent left.
	if err := layout.RemoveStaging(); err != nil {
		return nil, err
	}
	state, err := layout.State()
	if err != nil {
		return nil, err
	}
	ld, err := loader.New()
	if err != nil {
		return nil, err
	}
	return &Manager{layout: layout, loader: ld, root: state}, nil
}

// Apply makes p run on exactly its targets. If p's revision is pinned, it
// adopts it without reloading: it attaches new targets, detaches targets
// no longer in p.Attach and re-attaches links that died (an interface
// that went away). Otherwise it loads the new revision and moves every
// target to it: in place (link.Update) where the hook allows, else by
// attaching the new link before the old one goes; on failure the old
// revision keeps running, untouched. Then it removes every other revision
// of p.UID.
func (m *Manager) Apply(ctx context.Context, p Program) (Loaded, error) {
	if err := check(ctx, p); err != nil {
		return Loaded{}, err
	}
	if m.rootErr != nil {
		return Loaded{}, m.rootErr
	}
	ld, ok, err := m.adopt(ctx, p)
	if !ok && err == nil {
		ld, err = m.install(p)
	}
	if err != nil {
		return Loaded{}, err
	}
	m.remember(p.UID, pins.Dir(ld.PinDir), ld.ProgramID)
	if err := m.layout.RemoveOtherRevisions(p.UID, p.Revision.String()); err != nil {
		return ld, fmt.Errorf("remove old revisions of %s: %w", p.UID, err)
	}
	if !ld.Adopted {
		return ld, m.pruneByName(p.UID, pins.Dir(ld.PinDir))
	}
	return ld, nil
}

// Remove detaches and unpins every revision of uid, and the shared maps
// that no other program uses.
func (m *Manager) Remove(uid string) error {
	if m.rootErr != nil {
		return m.rootErr
	}
	if err := m.layout.RemoveUID(uid); err != nil {
		return err
	}
	m.forget(func(u string) bool { return u != uid })
	return m.pruneShared()
}

// Installed describes every pinned revision whose program is alive, with
// its live links. Broken or half-written pins are left out: Apply
// replaces them and Prune removes them.
func (m *Manager) Installed() ([]Loaded, error) {
	if m.rootErr != nil {
		return nil, m.rootErr
	}
	entries, err := m.layout.List()
	if err != nil {
		return nil, err
	}
	var out []Loaded
	shared := m.sharedIDs()
	for _, e := range entries {
		if ld, err := describe(e); err == nil {
			ld.Shared = sharedOf(ld.Maps, shared)
			out = append(out, ld)
		}
	}
	return out, nil
}

// Prune removes every uid directory under the root that is not in keep,
// anything else there that is not a program's, and the shared maps that
// no program left uses.
func (m *Manager) Prune(keep map[string]bool) error {
	if m.rootErr != nil {
		return m.rootErr
	}
	if err := m.layout.Prune(keep); err != nil {
		return err
	}
	m.forget(func(uid string) bool { return keep[uid] })
	return m.pruneShared()
}

func check(ctx context.Context, p Program) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for key, spec := range p.Attach {
		// pins.Dir.Link encodes the dots of interface names like "eth0.100".
		if err := pins.ValidateName("target", strings.ReplaceAll(key, ".", "_")); err != nil {
			return err
		}
		if spec == nil {
			return fmt.Errorf("target %s: no hook", key)
		}
	}
	if err := pins.ValidateUID(p.UID); err != nil {
		return err
	}
	if err := checkMaps(p.Maps); err != nil {
		return err
	}
	return pins.ValidateName("revision", p.Revision.String())
}
