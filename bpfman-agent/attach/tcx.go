package attach

import (
	"errors"
	"fmt"
	"slices"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

var (
	_ Spec      = TCX{}
	_ Describer = TCX{}
)

var _ = register(hook[bpfleetv1.TCXAttach]{
	name:  bpfleetv1.HookTCX,
	probe: probeTCX,
	plan: func(s bpfleetv1.TCXAttach, facts *Facts) (Plan, error) {
		if s.NetworkNamespaces != nil {
			return planPodTCX(s, facts)
		}
		return perInterface(s.Interfaces, facts, func(iface string) (Spec, error) {
			anchor, err := tcxAnchor(s.Order, iface, facts)
			return TCX{Interface: iface, Direction: string(s.Direction), Anchor: anchor}, err
		})
	},
	// Interfaces (and pods) that come and go add and remove links of one
	// revision.
	linkSettings: func(s bpfleetv1.TCXAttach) bpfleetv1.TCXAttach {
		s.Interfaces, s.NetworkNamespaces = bpfleetv1.InterfaceSelector{}, nil
		return s
	},
})

// planPodTCX plans s on the interfaces of the selected pods. An order
// naming another TcxProgram places the link relative to that program's
// link on the same interface of the same pod.
func planPodTCX(s bpfleetv1.TCXAttach, facts *Facts) (Plan, error) {
	p, err := perPodInterface(s.Interfaces, s.NetworkNamespaces, facts, func(iface string, ns Netns) Spec {
		return TCX{Interface: iface, Direction: string(s.Direction), Netns: ns}
	})
	errs := []error{err}
	for key, spec := range p.Targets {
		t := spec.(TCX)
		t.Anchor, err = tcxAnchor(s.Order, key, facts)
		p.Targets[key] = t
		errs = append(errs, err)
	}
	return p, errors.Join(errs...)
}

// tcxAnchor places a TCX program; before/after another TcxProgram needs
// that program's link on the same interface, which may not exist yet.
func tcxAnchor(o *bpfleetv1.TCXOrder, iface string, facts *Facts) (Order, error) {
	if o == nil {
		return Order{Last: true}, nil
	}
	return anchor(facts, "TcxProgram", iface, o.First, o.Before, o.After)
}

// TCX directions.
const (
	Ingress = "ingress"
	Egress  = "egress"
)

// TCX is the ingress or egress TCX hook of one network interface, in
// Netns (a pod's) or the agent's, where programs run in a chain in
// Anchor's order.
type TCX struct {
	Interface string
	Direction string // Ingress or Egress
	Anchor    Order
	Netns     Netns
}

// Validate checks Interface and Direction.
func (t TCX) Validate() error {
	if err := checkIfname(t.Interface); err != nil {
		return err
	}
	_, err := tcxAttachType(t.Direction)
	return err
}

// ProgramType implements Spec.
func (TCX) ProgramType() ebpf.ProgramType { return ebpf.SchedCLS }

// Attach implements Spec. The interface is looked up now, by name. Detail
// gives the link's position, e.g. "ingress position 1 of 2".
func (t TCX) Attach(prog *ebpf.Program) (a Attachment, err error) {
	if err := t.Validate(); err != nil {
		return Attachment{}, err
	}
	err = t.Netns.run(func() (err error) {
		a, err = t.attach(prog)
		return err
	})
	return a, err
}

func (t TCX) attach(prog *ebpf.Program) (Attachment, error) {
	ifindex, err := ifindexOf(t.Interface)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", t, err)
	}
	typ, _ := tcxAttachType(t.Direction)
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: typ, Anchor: t.Anchor.anchor()})
	if errors.Is(err, ebpf.ErrNotSupported) {
		// A kernel before 6.6: the program is Unsupported on this node,
		// not an attach to retry.
		return Attachment{}, fmt.Errorf("attach %s: %w", t, errNoTCX)
	}
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", t, err)
	}
	return Attachment{Link: l, Detail: t.describe(l, t.Direction)}, nil
}

// Describe implements Describer: where l is in its hook's chain now.
func (t TCX) Describe(l link.Link) (d string, err error) {
	err = t.Netns.run(func() (err error) {
		d, err = t.position(l)
		return err
	})
	return d, err
}

// describe is Describe, on a thread already in t's namespace, or fallback.
func (t TCX) describe(l link.Link, fallback string) string {
	d, err := t.position(l)
	if err != nil {
		return fallback
	}
	return d
}

func (t TCX) position(l link.Link) (string, error) {
	info, err := l.Info()
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", t, err)
	}
	order, err := TCXOrder(t.Interface, t.Direction)
	if err != nil {
		return "", err
	}
	pos := slices.Index(order, uint32(info.ID))
	if pos < 0 {
		return "", fmt.Errorf("describe %s: link %d is not attached", t, info.ID)
	}
	return fmt.Sprintf("%s position %d of %d", t.Direction, pos+1, len(order)), nil
}

func (t TCX) String() string {
	return "tcx " + t.Interface + " " + t.Direction + " (" + t.Anchor.String() + ")" + t.Netns.String()
}

// TCXOrder returns the IDs of the links on the direction ("ingress" or
// "egress") TCX hook of interface iface, in the order they run.
func TCXOrder(iface, direction string) ([]uint32, error) {
	typ, err := tcxAttachType(direction)
	if err != nil {
		return nil, err
	}
	ifindex, err := ifindexOf(iface)
	if err != nil {
		return nil, err
	}
	res, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: typ})
	if err != nil {
		return nil, fmt.Errorf("tcx %s %s: %w", iface, direction, err)
	}
	ids := make([]uint32, 0, len(res.Programs))
	for _, p := range res.Programs {
		id, _ := p.LinkID()
		ids = append(ids, uint32(id))
	}
	return ids, nil
}

func tcxAttachType(direction string) (ebpf.AttachType, error) {
	switch direction {
	case Ingress:
		return ebpf.AttachTCXIngress, nil
	case Egress:
		return ebpf.AttachTCXEgress, nil
	}
	return 0, fmt.Errorf("tcx direction %q: want %s or %s", direction, Ingress, Egress)
}

// errNoTCX is what a kernel without TCX links lacks.
var errNoTCX = &failure.Unsupported{Missing: "kernel lacks TCX (Linux 6.6+)"}

// probeTCX attaches a TCX link to no interface: ENODEV means the kernel has
// TCX.
func probeTCX() error {
	if err := programType(ebpf.SchedCLS); err != nil {
		return err
	}
	err := withProgram(ebpf.SchedCLS, ebpf.AttachNone, func(prog *ebpf.Program) error {
		l, err := link.AttachTCX(link.TCXOptions{Program: prog, Interface: noIfindex, Attach: ebpf.AttachTCXIngress})
		return refusedMissing(l, err)
	})
	if errors.Is(err, ebpf.ErrNotSupported) {
		return errNoTCX
	}
	if err != nil {
		return probeFailed("attaching a TCX link fails", err)
	}
	return nil
}
