package attach

import (
	"errors"
	"fmt"
	"math"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// Probes try the kernel for real with a program that returns 0, and leave
// nothing behind.

// trialFunction is a kernel function that exists for BPF self-tests
// (net/bpf/test_run.c, Linux 5.5+) and that nothing else calls: a trial
// kprobe there costs nothing.
const trialFunction = "bpf_fentry_test1"

// noIfindex is an interface index no interface has.
const noIfindex = math.MaxInt32

// loopback is the index of lo in a new network namespace.
const loopback = 1

// programType returns an error unless the kernel loads programs of typ.
func programType(typ ebpf.ProgramType) error {
	err := features.HaveProgramType(typ)
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("kernel cannot load %s programs", typ)
	}
	if err != nil {
		return probeFailed(fmt.Sprintf("probing %s programs", typ), err)
	}
	return nil
}

// refusedMissing closes l if the kernel made it and expects ENODEV
// (attaching to an interface that does not exist) otherwise.
func refusedMissing(l interface{ Close() error }, err error) error {
	if err == nil {
		l.Close()
		return errors.New("attached to a missing interface")
	}
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}

// withProgram loads a program that returns 0 and calls try with it.
func withProgram(typ ebpf.ProgramType, at ebpf.AttachType, try func(*ebpf.Program) error) error {
	spec := &ebpf.ProgramSpec{
		Type: typ, AttachType: at, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	}
	switch typ {
	case ebpf.Tracing:
		spec.AttachTo = trialFunction
	case ebpf.LSM:
		spec.AttachTo = trialLSMHook
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return err
	}
	defer prog.Close()
	return try(prog)
}

// probeError is a probe's failure worded for status (the kernel's error
// number, not cilium/ebpf's hints), keeping the error for errors.Is.
type probeError struct {
	msg string
	err error
}

func (e *probeError) Error() string { return e.msg }
func (e *probeError) Unwrap() error { return e.err }

// probeFailed is what failed, and why in the kernel's words.
func probeFailed(what string, err error) error {
	return &probeError{msg: what + ": " + cause(err), err: err}
}

// Inconclusive reports whether a probe's error says nothing about the
// kernel's abilities: it ran short of memory, met a busy resource or was
// interrupted. Such a hook is probed again later, and meanwhile not
// reported unsupported: a flaky probe must not evict running programs.
func Inconclusive(err error) bool {
	for _, errno := range []unix.Errno{unix.ENOMEM, unix.EBUSY, unix.EAGAIN, unix.EINTR, unix.ETIMEDOUT, unix.EMFILE, unix.ENFILE} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
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
