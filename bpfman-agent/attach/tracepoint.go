package attach

import (
	"fmt"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

var _ Spec = Tracepoint{}

var _ = register(hook[bpfleetv1.TracepointAttach]{
	name:  bpfleetv1.HookTracepoint,
	probe: func() error { return programType(ebpf.TracePoint) },
	plan: func(s bpfleetv1.TracepointAttach, _ *Facts) (Plan, error) {
		tp, err := ParseTracepoint(s.Name)
		if err != nil {
			return Plan{}, &failure.Invalid{Err: err}
		}
		return Single(tp), nil
	},
})

// Tracepoint is a kernel tracepoint, e.g. {"syscalls", "sys_enter_openat"}.
type Tracepoint struct {
	Group, Name string
}

// ParseTracepoint parses "group/name", the form tracefs and bpfman use.
func ParseTracepoint(s string) (Tracepoint, error) {
	group, name, ok := strings.Cut(s, "/")
	tp := Tracepoint{Group: group, Name: name}
	if !ok {
		return tp, fmt.Errorf("tracepoint %q: want group/name", s)
	}
	return tp, tp.Validate()
}

// Validate checks Group and Name before they reach tracefs paths.
func (t Tracepoint) Validate() error {
	if err := checkIdent("tracepoint group", t.Group); err != nil {
		return err
	}
	return checkIdent("tracepoint name", t.Name)
}

// ProgramType implements Spec.
func (Tracepoint) ProgramType() ebpf.ProgramType { return ebpf.TracePoint }

// Attach implements Spec. It mounts tracefs first if it is absent.
func (t Tracepoint) Attach(prog *ebpf.Program) (Attachment, error) {
	if err := t.Validate(); err != nil {
		return Attachment{}, err
	}
	if err := pins.EnsureTracefs(); err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", t, err)
	}
	l, err := link.Tracepoint(t.Group, t.Name, prog, nil)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", t, err)
	}
	return Attachment{Link: l, Detail: t.String()}, nil
}

func (t Tracepoint) String() string { return "tracepoint " + t.Group + "/" + t.Name }
