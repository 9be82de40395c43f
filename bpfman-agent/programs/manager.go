package programs

import (
	"context"
	"errors"
	"fmt"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// Program is one program the node must run.
type Program struct {
	UID         string            // program CR UID: pin dir name (validated)
	Revision    string            // opaque filename-safe hash; a new one replaces the running one
	Object      []byte            // the ELF
	ProgramName string            // function name in the ELF
	GlobalData  map[string]string // see loader.SetGlobals
	Attach      attach.Spec
}

// Loaded is a program running in the kernel, as its pins describe it.
type Loaded struct {
	UID, Revision     string
	ProgramID, LinkID uint32
	Maps              map[string]uint32 // map name -> kernel map ID
	PinDir            string            // <root>/<uid>/<revision>
	Adopted           bool              // taken over from pins without loading (always, from Installed)
}

// Manager loads, adopts and removes programs under one pin root.
type Manager struct {
	layout pins.Layout
	loader *loader.Loader
}

// New mounts bpffs and tracefs where absent and creates root, which must
// lie on a BPF filesystem.
func New(root string) (*Manager, error) {
	if err := pins.EnsureMounted(); err != nil {
		return nil, err
	}
	layout := pins.Layout{Root: root}
	if err := layout.Init(); err != nil {
		return nil, err
	}
	ld, err := loader.New()
	if err != nil {
		return nil, err
	}
	return &Manager{layout: layout, loader: ld}, nil
}

// Apply makes p run: it adopts p's revision if it is already pinned and
// attached, else loads, attaches and pins it, then removes every other
// revision of p.UID.
func (m *Manager) Apply(ctx context.Context, p Program) (Loaded, error) {
	if err := check(ctx, p); err != nil {
		return Loaded{}, err
	}
	ld, err := m.adopt(p.UID, p.Revision)
	if err != nil {
		ld, err = m.install(p)
	}
	if err != nil {
		return Loaded{}, err
	}
	if err := m.layout.RemoveOtherRevisions(p.UID, p.Revision); err != nil {
		return ld, fmt.Errorf("remove old revisions of %s: %w", p.UID, err)
	}
	return ld, nil
}

// Remove detaches and unpins every revision of uid.
func (m *Manager) Remove(uid string) error {
	return m.layout.RemoveUID(uid)
}

// Installed describes every pinned revision whose program and link are
// alive. Broken or half-written pins are left out: Apply replaces them and
// Prune removes them.
func (m *Manager) Installed() ([]Loaded, error) {
	entries, err := m.layout.List()
	if err != nil {
		return nil, err
	}
	var out []Loaded
	for _, e := range entries {
		if ld, err := describe(e); err == nil {
			out = append(out, ld)
		}
	}
	return out, nil
}

// Prune removes every uid directory under the root that is not in keep,
// and anything else there that is not a program's.
func (m *Manager) Prune(keep map[string]bool) error {
	return m.layout.Prune(keep)
}

func check(ctx context.Context, p Program) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.Attach == nil {
		return errors.New("program has no attach point")
	}
	if err := pins.ValidateName("uid", p.UID); err != nil {
		return err
	}
	return pins.ValidateName("revision", p.Revision)
}
