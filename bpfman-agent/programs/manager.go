package programs

import (
	"context"
	"fmt"
	"strings"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// Program is one application the node must run: one load of an object,
// several programs of it (one for a single program kind), each on its
// targets, sharing the object's maps and globals.
type Program struct {
	UID string // program CR UID: pin dir name (validated)
	// Revision names what is loaded; a new one replaces the running one.
	Revision   Revision
	Object     []byte            // the ELF
	GlobalData map[string]string // see loader.SetGlobals
	// Programs are the object's programs to run, at least one, each named
	// once. Adding, removing or changing one is a new Revision.
	Programs []Attachment
	// Maps configures maps by name before load (see MapConfig). Their
	// settings must be part of Revision: a change reloads.
	Maps map[string]MapConfig
}

// Attachment is one program of an object and where it attaches.
type Attachment struct {
	Name string // function name in the ELF, a C identifier
	// LinkKey names the hook settings its links are made with
	// (attach.Hook.LinkKey), or "": a new revision moves this program's
	// links in place (link.Update) only while it is unchanged. It is part
	// of the links' pin directory (pins.LinkSet), and must be part of
	// Revision. [A-Za-z0-9_].
	LinkKey string
	// Attach maps a target key to its hook. The key names the link's pin,
	// <revision dir>/links/<program>[-<LinkKey>]/<key> (see pins.Dir.Link):
	// "main" for a single hook, an interface name for XDP or TCX;
	// [A-Za-z0-9_.-]. Targets come and go within a revision; Revision
	// must not depend on them.
	Attach map[string]attach.Spec
	// Soft marks the targets (in pods) whose attach failure is reported
	// for that target (LoadedProgram.Failed) and retried on the next
	// pass, while the program's other targets attach: one pod must not
	// hold the others back.
	Soft map[string]bool
}

func (a Attachment) set() pins.LinkSet { return pins.LinkSet{Program: a.Name, Key: a.LinkKey} }

// names lists the names of p's programs, in p's order.
func (p Program) names() []string {
	out := make([]string, len(p.Programs))
	for i, a := range p.Programs {
		out[i] = a.Name
	}
	return out
}

// Loaded is an application running in the kernel, as its pins describe
// it.
type Loaded struct {
	UID, Revision string
	// Programs are its programs, by name. A revision pinned by an agent
	// before applications (see pins.Dir.LegacyProg) lists its one program
	// under the name "".
	Programs map[string]LoadedProgram
	Maps     map[string]uint32 // map name -> kernel map ID, one for all its programs
	Shared   map[string]string // map name -> shared map name, for shared maps
	PinDir   string            // <root>/<uid>/<revision>
	Adopted  bool              // the revision was running already, not loaded now
}

// LoadedProgram is one program of a Loaded application.
type LoadedProgram struct {
	ID    uint32              // kernel program ID
	Links map[string]LinkInfo // target key -> link
	// Failed says, by target key, why a soft target (see
	// Attachment.Soft) has no link.
	Failed map[string]string
}

// Live reports whether a program of ld has a live link.
func (ld Loaded) Live() bool {
	for _, lp := range ld.Programs {
		if len(lp.Links) > 0 {
			return true
		}
	}
	return false
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

// Apply makes p's programs run on exactly their targets. If p's revision
// is pinned, it adopts it without reloading: it attaches new targets,
// detaches targets no longer in p's Attach and re-attaches links that
// died (an interface that went away). Otherwise it loads the new revision and moves every
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
	m.remember(p.UID, pins.Dir(ld.PinDir), ld)
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
	if err := pins.ValidateUID(p.UID); err != nil {
		return err
	}
	if len(p.Programs) == 0 {
		return fmt.Errorf("%s: no program to run", p.UID)
	}
	seen := make(map[string]bool, len(p.Programs))
	for _, a := range p.Programs {
		if err := checkAttachment(a); err != nil {
			return err
		}
		if seen[a.Name] {
			return fmt.Errorf("program %s named twice", a.Name)
		}
		seen[a.Name] = true
	}
	if err := checkMaps(p.Maps); err != nil {
		return err
	}
	return pins.ValidateName("revision", p.Revision.String())
}

// checkAttachment checks the names a's pins are made of.
func checkAttachment(a Attachment) error {
	// A '-' would end the program's name in its links directory.
	if err := pins.ValidateName("program", a.Name); err != nil {
		return err
	}
	if strings.Contains(a.Name, "-") {
		return fmt.Errorf("program %q: not a C identifier", a.Name)
	}
	if a.LinkKey != "" {
		if err := pins.ValidateName("link key", a.LinkKey); err != nil {
			return err
		}
	}
	for key, spec := range a.Attach {
		// pins.Dir.Link encodes the dots of interface names like "eth0.100".
		if err := pins.ValidateName("target", strings.ReplaceAll(key, ".", "_")); err != nil {
			return err
		}
		if spec == nil {
			return fmt.Errorf("program %s: target %s: no hook", a.Name, key)
		}
	}
	return nil
}
