package attach

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

var (
	_ Spec     = Fentry{}
	_ Preparer = Fentry{}
)

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
