package attach

import "github.com/cilium/ebpf"

// UnsupportedError is in the chain of an attach error when the node's
// kernel lacks what the hook needs altogether (kprobes, say), rather than
// the one target: retrying is pointless and the program is Unsupported on
// this node. Missing is a short human reason, fit for status. It matches
// ebpf.ErrNotSupported with errors.Is.
type UnsupportedError struct {
	Missing string
}

func (e *UnsupportedError) Error() string { return e.Missing }

// Is makes errors.Is(err, ebpf.ErrNotSupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ebpf.ErrNotSupported }

// WaitError is a program waiting for something else on the node (another
// program to attach first, a default route): pending, retried soon, not a
// failure.
type WaitError struct{ What string }

func (e *WaitError) Error() string { return e.What }

// SpecError is a hook's settings the agent cannot act on: only a new
// spec can fix it.
type SpecError struct{ Err error }

func (e *SpecError) Error() string { return e.Err.Error() }
func (e *SpecError) Unwrap() error { return e.Err }
