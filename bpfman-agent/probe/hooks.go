package probe

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
)

// hooks checks each hook; an error's text is the reason it is unusable.
var hooks = map[string]func() error{
	bpfleetv1.HookTracepoint: func() error { return programType(ebpf.TracePoint) },
	bpfleetv1.HookXDP:        xdp,
	bpfleetv1.HookTCX:        tcx,
	bpfleetv1.HookUprobe:     uprobe,
	bpfleetv1.HookKprobe:     kprobe,
	bpfleetv1.HookFentry:     func() error { return tracing(ebpf.AttachTraceFEntry, "fentry") },
	bpfleetv1.HookFexit:      func() error { return tracing(ebpf.AttachTraceFExit, "fexit") },
}

// trialFunction is a kernel function that exists for BPF self-tests
// (net/bpf/test_run.c, Linux 5.5+) and that nothing else calls: a trial
// kprobe there costs nothing.
const trialFunction = "bpf_fentry_test1"

// noIfindex is an interface index no interface has.
const noIfindex = math.MaxInt32

func programType(typ ebpf.ProgramType) error {
	err := features.HaveProgramType(typ)
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("kernel cannot load %s programs", typ)
	}
	if err != nil {
		return fmt.Errorf("probing %s programs: %s", typ, cause(err))
	}
	return nil
}

// xdp attaches an XDP link to the loopback interface of a new, empty
// network namespace. (Attaching to a missing interface cannot tell: the
// kernel answers EINVAL, as it does without XDP links.)
func xdp() error {
	if err := programType(ebpf.XDP); err != nil {
		return err
	}
	err := inNewNetns(func() error {
		return withProgram(ebpf.XDP, ebpf.AttachNone, func(prog *ebpf.Program) error {
			l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: loopback})
			if err != nil {
				return err
			}
			return l.Close()
		})
	})
	if errors.Is(err, ebpf.ErrNotSupported) {
		return errors.New("kernel lacks XDP links (Linux 5.9+)")
	}
	if err != nil {
		return fmt.Errorf("attaching an XDP link fails: %s", cause(err))
	}
	return nil
}

// loopback is the index of lo in a new network namespace.
const loopback = 1

// inNewNetns runs fn on a thread of its own in a new network namespace.
// The thread is never unlocked, so it exits with its goroutine and the
// namespace goes with it.
func inNewNetns(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("new network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// tcx attaches a TCX link to no interface: ENODEV means the kernel has
// TCX.
func tcx() error {
	if err := programType(ebpf.SchedCLS); err != nil {
		return err
	}
	err := withProgram(ebpf.SchedCLS, ebpf.AttachNone, func(prog *ebpf.Program) error {
		l, err := link.AttachTCX(link.TCXOptions{Program: prog, Interface: noIfindex, Attach: ebpf.AttachTCXIngress})
		return refused(l, err)
	})
	if errors.Is(err, ebpf.ErrNotSupported) {
		return errors.New("kernel lacks TCX (Linux 6.6+)")
	}
	return err
}

// refused closes l if the kernel made it and expects ENODEV otherwise.
func refused(l link.Link, err error) error {
	if err == nil {
		l.Close()
		return errors.New("attached to a missing interface")
	}
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}

func uprobe() error {
	if err := programType(ebpf.Kprobe); err != nil {
		return err
	}
	return attach.UprobeFacility()
}

// kprobe attaches a real kprobe to trialFunction, once the facility is
// known to be there: the Kprobe program type alone loads even without
// CONFIG_KPROBES.
func kprobe() error {
	if err := programType(ebpf.Kprobe); err != nil {
		return err
	}
	if err := attach.KprobeFacility(); err != nil {
		return err
	}
	err := withProgram(ebpf.Kprobe, ebpf.AttachNone, func(prog *ebpf.Program) error {
		a, err := attach.Kprobe{Function: trialFunction}.Attach(prog)
		if err != nil {
			return err
		}
		return a.Link.Close()
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil // the facility is there, the trial function is not
	}
	if err != nil {
		return fmt.Errorf("attaching a kprobe fails: %s", cause(err))
	}
	return nil
}

// tracing loads a fentry or fexit program for trialFunction. It does not
// attach it: detaching a trampoline waits for an RCU tasks grace period,
// which can take long.
func tracing(typ ebpf.AttachType, kind string) error {
	if _, err := btf.LoadKernelSpec(); err != nil {
		return fmt.Errorf("%s needs kernel BTF: %s", kind, cause(err))
	}
	err := withProgram(ebpf.Tracing, typ, func(*ebpf.Program) error { return nil })
	if errors.Is(err, btf.ErrNotFound) {
		return nil // loads are possible, the trial function is missing
	}
	if err != nil {
		return fmt.Errorf("loading %s programs fails: %s", kind, cause(err))
	}
	return nil
}

// withProgram loads a program that returns 0 and calls try with it.
func withProgram(typ ebpf.ProgramType, at ebpf.AttachType, try func(*ebpf.Program) error) error {
	spec := &ebpf.ProgramSpec{
		Type: typ, AttachType: at, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	}
	if typ == ebpf.Tracing {
		spec.AttachTo = trialFunction
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return err
	}
	defer prog.Close()
	return try(prog)
}

// cause is the kernel's error number in err, as text, or else err's
// text: cilium/ebpf adds hints (MEMLOCK...) that mislead here.
func cause(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
