package programs

import "github.com/bpfleet/bpfleet/bpfman-agent/loader"

// Error is a classified failure; see loader.Error.
type Error = loader.Error

// Reasons an *Error can carry.
const (
	ReasonVerifierRejected  = loader.ReasonVerifierRejected
	ReasonProgramNotFound   = loader.ReasonProgramNotFound
	ReasonInvalidObject     = loader.ReasonInvalidObject
	ReasonInvalidGlobalData = loader.ReasonInvalidGlobalData
	ReasonAttachFailed      = loader.ReasonAttachFailed
	ReasonUnsupported       = loader.ReasonUnsupported
	ReasonLoadFailed        = loader.ReasonLoadFailed
	ReasonMapIncompatible   = loader.ReasonMapIncompatible
	// ReasonPinRootUnavailable: see CheckRoot.
	ReasonPinRootUnavailable = loader.ReasonPinRootUnavailable
	ReasonMapFull            = loader.ReasonMapFull
)

// Terminal reports whether retrying err with the same input is pointless.
func Terminal(err error) bool { return loader.Terminal(err) }

// Reason returns the Reason of the *Error in err's chain, or "".
func Reason(err error) string { return loader.Reason(err) }
