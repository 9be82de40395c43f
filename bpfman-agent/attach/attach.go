package attach

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Spec is one kind of hook with its target on this node.
type Spec interface {
	// ProgramType is the type a program must have to attach here.
	ProgramType() ebpf.ProgramType
	// Attach attaches prog and returns the link, which the caller owns.
	Attach(prog *ebpf.Program) (Attachment, error)
	// String describes the hook for status and logs, e.g.
	// "tracepoint syscalls/sys_enter_openat".
	String() string
}

// Attachment is an attached link and what status should say about it,
// e.g. "mode=generic" or "ingress position 1 of 2".
type Attachment struct {
	Link   link.Link
	Detail string
}

// Preparer is implemented by hooks whose target is fixed at load time
// (fentry/fexit name the traced function): the loader calls Prepare on the
// program's spec before loading it.
type Preparer interface {
	Prepare(spec *ebpf.ProgramSpec) error
}

// Describer is implemented by hooks that can say again, of a link made
// earlier (adopted from a pin, or moved by others since), what
// Attachment.Detail says now: a TCX position changes as links come and go.
type Describer interface {
	Describe(l link.Link) (string, error)
}

// Detail is what status should say about l, attached by s: s's Describe
// where s implements Describer, else fallback.
func Detail(s Spec, l link.Link, fallback string) string {
	d, ok := s.(Describer)
	if !ok {
		return fallback
	}
	detail, err := d.Describe(l)
	if err != nil {
		return fallback
	}
	return detail
}

// Detached reports whether l no longer hooks anything: XDP and TCX links
// outlive their interface, detached, with ifindex 0.
func Detached(l link.Link) (bool, error) {
	info, err := l.Info()
	if err != nil {
		return false, fmt.Errorf("link info: %w", err)
	}
	if x := info.XDP(); x != nil {
		return x.Ifindex == 0, nil
	}
	if x := info.TCX(); x != nil {
		return x.Ifindex == 0, nil
	}
	return false, nil
}

// CheckType returns an error unless programs of type typ can attach to s.
func CheckType(s Spec, typ ebpf.ProgramType) error {
	if typ != s.ProgramType() {
		return fmt.Errorf("%s needs a %s program, not %s", s, s.ProgramType(), typ)
	}
	return nil
}

// maxIdentLen bounds names of kernel objects taken from the API.
const maxIdentLen = 128

// checkIdent accepts what names a tracepoint group or event:
// [A-Za-z0-9_], 1 to maxIdentLen bytes.
func checkIdent(what, s string) error {
	if s == "" || len(s) > maxIdentLen {
		return fmt.Errorf("%s %q: must be 1 to %d characters", what, s, maxIdentLen)
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%s %q: character %q not in [A-Za-z0-9_]", what, s, c)
		}
	}
	return nil
}

// Order places a link among the others on its hook (TCX, a cgroup's):
// First, Last, or just before or after the link with ID BeforeLink or
// AfterLink. The zero Order is Last.
type Order struct {
	First, Last           bool
	BeforeLink, AfterLink uint32
}

func (o Order) anchor() link.Anchor {
	switch {
	case o.First:
		return link.Head()
	case o.BeforeLink != 0:
		return link.BeforeLinkByID(link.ID(o.BeforeLink))
	case o.AfterLink != 0:
		return link.AfterLinkByID(link.ID(o.AfterLink))
	}
	return link.Tail()
}

func (o Order) String() string {
	switch {
	case o.First:
		return "first"
	case o.BeforeLink != 0:
		return fmt.Sprintf("before link %d", o.BeforeLink)
	case o.AfterLink != 0:
		return fmt.Sprintf("after link %d", o.AfterLink)
	}
	return "last"
}
