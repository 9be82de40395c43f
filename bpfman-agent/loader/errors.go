package loader

import (
	"errors"
	"fmt"
)

// Reasons, machine-readable and CamelCase, suitable for a Condition reason.
const (
	ReasonVerifierRejected  = "VerifierRejected"
	ReasonProgramNotFound   = "ProgramNotFound"
	ReasonInvalidObject     = "InvalidObject"
	ReasonInvalidGlobalData = "InvalidGlobalData"
	ReasonAttachFailed      = "AttachFailed"
	ReasonUnsupported       = "Unsupported"
	ReasonLoadFailed        = "LoadFailed"
	// ReasonMapIncompatible: a map configuration does not fit the object
	// (no such map, a data section), or a shared map another program made
	// differs in type, key or value size, max_entries or flags.
	ReasonMapIncompatible = "MapIncompatible"
	// ReasonPinRootUnavailable: the pin root is no longer on a BPF
	// filesystem and the agent could not make it again: nothing is
	// loaded (a program it could not pin would be lost to the agent).
	ReasonPinRootUnavailable = "PinRootUnavailable"
	// ReasonMapFull: the entries a running revision's map holds do not fit
	// in the new revision's map (a smaller maxEntries), so the update is
	// held and the running revision keeps running. Not terminal: entries
	// may go, or the spec change.
	ReasonMapFull = "MapFull"
)

// Error is a classified failure to load or attach a program.
type Error struct {
	Reason      string // one of the Reason constants
	Message     string // human-readable, without the reason
	VerifierLog string // tail of the verifier log, if the kernel gave one
	Err         error  // underlying error, if any
}

func (e *Error) Error() string { return e.Reason + ": " + e.Message }

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with reason and a formatted message. A %w verb
// sets Err.
func Errorf(reason, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Reason: reason, Message: err.Error(), Err: errors.Unwrap(err)}
}

// Reason returns the Reason of the *Error in err's chain, or "" if none.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// Terminal reports whether retrying err with the same input is pointless:
// true for invalid input, verifier rejection, unsupported program types
// and incompatible maps (only a change of this program or of those sharing
// the map can fix it); false for AttachFailed (the hook may appear later), LoadFailed
// (e.g. out of memory) and errors that are not an *Error.
func Terminal(err error) bool {
	switch Reason(err) {
	case ReasonVerifierRejected, ReasonProgramNotFound, ReasonInvalidObject,
		ReasonInvalidGlobalData, ReasonUnsupported, ReasonMapIncompatible:
		return true
	}
	return false
}
