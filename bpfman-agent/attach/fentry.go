package attach

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

var (
	_ Spec     = Fentry{}
	_ Preparer = Fentry{}
)

var (
	_ = register(tracingHook(bpfleetv1.HookFentry, false))
	_ = register(tracingHook(bpfleetv1.HookFexit, true))
)

// tracingHook is the fentry hook, or with exit the fexit hook.
func tracingHook(name string, exit bool) hook[bpfleetv1.FentryAttach] {
	return hook[bpfleetv1.FentryAttach]{
		name:  name,
		probe: func() error { return probeTracing(Fentry{Exit: exit}) },
		plan: func(s bpfleetv1.FentryAttach, _ *Facts) (Plan, error) {
			return Single(Fentry{Function: s.Function, Exit: exit}), nil
		},
	}
}

// Fentry is the entry (or, with Exit, the exit) of a kernel function,
// reached through a BTF trampoline. The function is fixed when the program
// loads, so the loader must call Prepare on the program's spec first.
type Fentry struct {
	Function string
	Exit     bool
}

// Validate checks Function, a BTF function name.
func (f Fentry) Validate() error {
	return checkSymbol(f.kind()+" function", f.Function, "", "")
}

// ProgramType implements Spec.
func (Fentry) ProgramType() ebpf.ProgramType { return ebpf.Tracing }

// Prepare implements Preparer: it points spec at Function, as fentry or
// fexit, whatever its ELF section said.
func (f Fentry) Prepare(spec *ebpf.ProgramSpec) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if spec.Type != ebpf.Tracing {
		return fmt.Errorf("%s needs a %s program, not %s", f, ebpf.Tracing, spec.Type)
	}
	spec.AttachTo = f.Function
	spec.AttachType = f.attachType()
	return nil
}

// Attach implements Spec. prog must have been loaded from a spec that
// Prepare prepared.
func (f Fentry) Attach(prog *ebpf.Program) (Attachment, error) {
	if err := f.Validate(); err != nil {
		return Attachment{}, err
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: f.attachType()})
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", f, err)
	}
	return Attachment{Link: l, Detail: f.String()}, nil
}

func (f Fentry) String() string { return f.kind() + " " + f.Function }

func (f Fentry) kind() string {
	if f.Exit {
		return "fexit"
	}
	return "fentry"
}

func (f Fentry) attachType() ebpf.AttachType {
	if f.Exit {
		return ebpf.AttachTraceFExit
	}
	return ebpf.AttachTraceFEntry
}

// probeTracing loads a fentry or fexit program for trialFunction. It does
// not attach it: detaching a trampoline waits for an RCU tasks grace
// period, which can take long.
func probeTracing(f Fentry) error {
	if _, err := btf.LoadKernelSpec(); err != nil {
		return probeFailed(f.kind()+" needs kernel BTF", err)
	}
	err := withProgram(ebpf.Tracing, f.attachType(), func(*ebpf.Program) error { return nil })
	if errors.Is(err, btf.ErrNotFound) {
		return nil // loads are possible, the trial function is missing
	}
	if err != nil {
		return probeFailed("loading "+f.kind()+" programs fails", err)
	}
	return nil
}
