package nodesync

import (
	"errors"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
)

// failure is an error classified once, for status: its reason, whether only
// a spec change can fix it, and the verifier log if there is one.
type failure struct {
	state       bpfleetv1.ProgramState
	reason      string
	message     string
	terminal    bool
	verifierLog string
}

// classify sorts an error from fetching, loading or attaching. Errors the
// agent cannot name are transient: the pass is retried with backoff.
func classify(err error) failure {
	f := failure{state: bpfleetv1.StateFailed, reason: bpfleetv1.ReasonLoadFailed, message: err.Error()}
	var lerr *loader.Error
	var ierr *image.Error
	var serr *specError
	var werr *waitError
	var hookSpec *attach.SpecError
	var hookWait *attach.WaitError
	var unsupported *attach.UnsupportedError
	switch {
	case errors.As(err, &werr), errors.As(err, &hookWait):
		f.state, f.reason = bpfleetv1.StatePending, bpfleetv1.ReasonWaiting
	case errors.As(err, &lerr):
		f.reason, f.message, f.verifierLog = lerr.Reason, lerr.Message, lerr.VerifierLog
		f.terminal = loader.Terminal(err)
	case errors.As(err, &ierr):
		f.reason = ierr.Reason
		f.terminal = !ierr.Transient()
	case errors.As(err, &unsupported):
		f.reason, f.terminal = bpfleetv1.ReasonUnsupported, true
	case errors.As(err, &serr), errors.As(err, &hookSpec):
		f.reason, f.terminal = bpfleetv1.ReasonInvalidSpec, true
	}
	if f.reason == bpfleetv1.ReasonUnsupported {
		f.state = bpfleetv1.StateUnsupported
	}
	return f
}

// waitError is a program waiting for something else on the node (another
// program to attach first): pending, retried soon, not a failure.
type waitError struct{ what string }

func (e *waitError) Error() string { return e.what }

// specError is a node spec the agent cannot act on.
type specError struct{ err error }

func (e *specError) Error() string { return e.err.Error() }
func (e *specError) Unwrap() error { return e.err }
