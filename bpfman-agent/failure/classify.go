package failure

import (
	"errors"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/statusmsg"
)

// Failure is an error as status reports it.
type Failure struct {
	State   bpfleetv1.ProgramState
	Reason  string
	Message string
	// Terminal: only a spec change can fix it; the agent does not retry.
	Terminal    bool
	VerifierLog string
}

// Classify sorts an error from fetching, loading, attaching or writing
// map entries.
func Classify(err error) Failure {
	f := Failure{State: bpfleetv1.StateFailed, Reason: bpfleetv1.ReasonLoadFailed, Message: err.Error()}
	var (
		wait        *Wait
		invalid     *Invalid
		unsupported *Unsupported
		lerr        *loader.Error
		ierr        *image.Error
	)
	switch {
	case errors.As(err, &wait):
		f.State, f.Reason = bpfleetv1.StatePending, bpfleetv1.ReasonWaiting
	case errors.As(err, &lerr):
		f.Reason, f.Message, f.VerifierLog = lerr.Reason, lerr.Message, lerr.VerifierLog
		f.Terminal = loader.Terminal(err)
	case errors.As(err, &ierr):
		f.Reason, f.Terminal = ierr.Reason, !ierr.Transient()
	case errors.As(err, &unsupported):
		f.Reason, f.Terminal = bpfleetv1.ReasonUnsupported, true
	case errors.As(err, &invalid):
		f.Reason, f.Terminal = bpfleetv1.ReasonInvalidSpec, true
	}
	if f.Reason == bpfleetv1.ReasonUnsupported {
		f.State = bpfleetv1.StateUnsupported
	}
	// A failure of a large object can name thousands of programs or maps,
	// and the report is one object.
	f.Message = statusmsg.Bound(f.Message)
	f.VerifierLog = statusmsg.Tail(f.VerifierLog)
	return f
}

// Transient reports whether a retry may help and is not merely waiting:
// the caller returns such an error, for backoff.
func (f Failure) Transient() bool {
	return !f.Terminal && f.State != bpfleetv1.StatePending
}
