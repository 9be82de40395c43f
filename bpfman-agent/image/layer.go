package image

import (
	"errors"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// extractObject returns the ELF object that a layer holds
// (bpfoci.ExtractObject, which the operator reads images with too): an
// *Error of Reason ImageTooLarge when a limit was met, else InvalidImage.
func extractObject(layer []byte, maxObject int64) ([]byte, error) {
	obj, err := bpfoci.ExtractObject(layer, maxObject)
	switch {
	case err == nil:
		return obj, nil
	case errors.Is(err, bpfoci.ErrTooLarge):
		return nil, &Error{Reason: ReasonTooLarge, Err: err}
	}
	return nil, &Error{Reason: ReasonInvalid, Err: err}
}
