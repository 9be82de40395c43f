package programs

import (
	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
)

// load loads p's programs and the maps they use, in one load, after
// checking that each program can attach to its targets, letting targets
// that fix it at load time (attach.Preparer) prepare it, and configuring
// its maps (p.Maps); maps the object pins by name are pinned under the
// uid's by-name directory (see pins.Layout.ByName); the running
// revision's maps that fit are used as they are (see reuse). made lists
// the shared maps it created, which the caller unpins if the install
// fails, even when load itself does.
func (m *Manager) load(p Program) (objs *loader.Collection, made []string, err error) {
	spec, err := loader.SpecOf(p.Object, p.names(), p.GlobalData)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range p.Programs {
		if err := prepare(a, spec.Programs[a.Name]); err != nil {
			return nil, nil, err
		}
	}
	r, err := m.configureMaps(p, spec)
	defer r.close()
	if err != nil {
		return nil, r.made, err
	}
	if err := m.initByName(p, spec); err != nil {
		return nil, r.made, err
	}
	if err := m.reuse(p, spec, r); err != nil {
		return nil, r.made, err
	}
	objs, err = m.loader.LoadPrograms(spec, p.names(), r.replace, m.layout.ByName(p.UID))
	return objs, r.made, err
}

// prepare refuses, before anything is loaded, a program whose type cannot
// attach where a says, then calls the targets' Prepare.
func prepare(a Attachment, prog *ebpf.ProgramSpec) error {
	for _, spec := range a.Attach {
		if err := attach.CheckType(spec, prog.Type); err != nil {
			return loader.Errorf(loader.ReasonInvalidObject, "program %q: %w", a.Name, err)
		}
	}
	for _, spec := range a.Attach {
		if pr, ok := spec.(attach.Preparer); ok {
			if err := pr.Prepare(prog); err != nil {
				return loader.Errorf(loader.ReasonInvalidObject, "program %q: %w", a.Name, err)
			}
		}
	}
	return nil
}
