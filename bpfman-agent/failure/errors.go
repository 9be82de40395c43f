package failure

import "github.com/cilium/ebpf"

// Wait is a program or policy waiting for something else on the node
// (another program to attach first, the operator, a default route):
// pending, retried soon, not a failure.
type Wait struct{ What string }

func (e *Wait) Error() string { return e.What }

// Invalid is a spec the agent cannot act on: only a new spec can fix it.
type Invalid struct{ Err error }

func (e *Invalid) Error() string { return e.Err.Error() }
func (e *Invalid) Unwrap() error { return e.Err }

// Unsupported is in the chain of an error when the node's kernel lacks
// what a hook needs altogether (kprobes, say), rather than the one target:
// retrying is pointless and the program is Unsupported on this node.
// Missing is a short human reason, fit for status. It matches
// ebpf.ErrNotSupported with errors.Is.
type Unsupported struct{ Missing string }

func (e *Unsupported) Error() string { return e.Missing }

// Is makes errors.Is(err, ebpf.ErrNotSupported) true.
func (e *Unsupported) Is(target error) bool { return target == ebpf.ErrNotSupported }
