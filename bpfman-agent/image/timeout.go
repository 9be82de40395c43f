package image

import (
	"context"
	"errors"
	"fmt"
	"time"

	bpfoci "github.com/bpfleet/bpfleet/internal/oci"
)

// pullDeadline is the cause of a pull's context when the pull took longer
// than its bound.
type pullDeadline time.Duration

func (d pullDeadline) Error() string {
	return fmt.Sprintf("the pull took longer than %v", time.Duration(d))
}

// withPullDeadline bounds ctx by d, whose expiry is a pullDeadline.
func withPullDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, pullDeadline(d))
}

// timedOut returns err, or, if the registry at host did not answer in time
// (a request's own timeout or the pull's deadline), a pull failure saying
// so: transient, retried on a later pass.
func timedOut(ctx context.Context, host string, err error) error {
	var d pullDeadline
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.As(context.Cause(ctx), &d):
		return &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("registry %s %w: %w", host, bpfoci.ErrTimeout, d)}
	case !bpfoci.IsTimeout(err):
		return err
	}
	return &Error{Reason: ReasonPullFailed, Err: fmt.Errorf("registry %s %w: %w", host, bpfoci.ErrTimeout, err)}
}
