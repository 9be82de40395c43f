package image

import (
	"errors"
	"fmt"
)

// Reasons of an *Error, in the CamelCase of a condition reason.
const (
	// ReasonPullFailed: the registry could not be reached, refused the
	// credentials, or does not hold the image. Transient: retry.
	ReasonPullFailed = "ImagePullFailed"
	// ReasonInvalid: the manifest, config, labels or layer are not those of
	// the kind of artifact asked for (bytecode image or map entries list).
	ReasonInvalid = "InvalidImage"
	// ReasonTooLarge: a manifest, config, layer, object or entries list
	// exceeds the limits.
	ReasonTooLarge = "ImageTooLarge"
	// ReasonNotBPF: the object is not an ELF file, or not an eBPF one.
	ReasonNotBPF = "NotBPF"
	// ReasonWrongEndianness: the object is eBPF of the other byte order.
	ReasonWrongEndianness = "WrongEndianness"
	// ReasonSignatureInvalid: the artifact does not meet a signature
	// policy (unsigned, or no signature verifies with its keys), or is a
	// file on the node where a policy requires signed images.
	ReasonSignatureInvalid = "SignatureInvalid"
)

// ErrNotCached is wrapped by the error Fetch and FetchEntries return for an
// artifact that is absent from the cache under the Never pull policy.
var ErrNotCached = errors.New("image not present on the node and pull policy is Never")

// Error is the error of every function of this package.
type Error struct {
	// Reason is one of the Reason constants.
	Reason string
	// Err says what went wrong, for a human.
	Err error
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Transient reports whether retrying the same Fetch or FetchEntries may
// succeed.
func (e *Error) Transient() bool { return e.Reason == ReasonPullFailed }

// ReasonOf returns the Reason of the *Error in err's chain, or "" if none.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func newError(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// wrap returns err unchanged if it already carries a reason, else an *Error
// with the given reason; either way prefixed with context.
func wrap(reason, context string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Reason: e.Reason, Err: fmt.Errorf("%s: %w", context, err)}
	}
	return &Error{Reason: reason, Err: fmt.Errorf("%s: %w", context, err)}
}
