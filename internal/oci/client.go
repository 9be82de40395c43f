package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"oras.land/oras-go/v2/registry/remote/retry"
)

// Default bounds on a registry request; see Timeouts.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultHeaderTimeout  = 30 * time.Second
)

// ErrTimeout is wrapped by RemoteError's result when the registry did not
// answer in time: it accepted the connection and sent nothing, or stopped
// sending a body midway, or the whole exchange took too long.
var ErrTimeout = errors.New("timed out")

// Timeouts bound every request made to a registry, so that one that
// accepts a connection and never answers cannot hang its caller.
type Timeouts struct {
	// Connect bounds the TCP connection and the TLS handshake, each.
	Connect time.Duration
	// Header bounds the wait for the response headers once the request
	// is sent, and each silence while a response body is read.
	Header time.Duration
}

// DefaultTimeouts are the bounds NewRepository's client uses.
var DefaultTimeouts = Timeouts{Connect: DefaultConnectTimeout, Header: DefaultHeaderTimeout}

// defaultClient is the client of NewRepository.
var defaultClient = NewHTTPClient(DefaultTimeouts)

// NewHTTPClient returns a client for registries whose requests are bounded
// by t. It retries, with backoff, what oras-go retries (5xx, 429, a reset
// connection), except a timeout: a registry that said nothing for
// t.Header is reported at once rather than waited on again and again.
func NewHTTPClient(t Timeouts) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = t.Connect
	base.ResponseHeaderTimeout = t.Header
	rt := &retry.Transport{Base: &stallTransport{base: base, after: t.Header}, Policy: func() retry.Policy { return noTimeoutRetries }}
	return &http.Client{Transport: rt}
}

// noTimeoutRetries is oras-go's default policy, without retries on
// timeouts.
var noTimeoutRetries retry.Policy = &retry.GenericPolicy{
	Retryable: func(resp *http.Response, err error) (bool, error) {
		if isTimeout(err) {
			return false, err
		}
		return retry.DefaultPredicate(resp, err)
	},
	Backoff:  retry.DefaultBackoff,
	MinWait:  200 * time.Millisecond,
	MaxWait:  3 * time.Second,
	MaxRetry: 5,
}

// isTimeout reports whether err is a timeout: of the network, of a
// response body, or of a context deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errStalled) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// timeoutError is a timeout, as RemoteError marks it: errors.Is(ErrTimeout),
// with the message of the error it wraps.
type timeoutError struct{ err error }

func (e timeoutError) Error() string        { return e.err.Error() }
func (e timeoutError) Unwrap() error        { return e.err }
func (e timeoutError) Is(target error) bool { return target == ErrTimeout }

// errStalled is what a response body read returns once the registry has
// sent nothing for the header timeout.
var errStalled = errors.New("the registry stopped sending")

// stallTransport fails a response body that stays silent for longer than
// after: ResponseHeaderTimeout bounds the wait for headers only.
type stallTransport struct {
	base  http.RoundTripper
	after time.Duration
}

func (t *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.after <= 0 {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	body := &stallReader{body: resp.Body, after: t.after, cancel: cancel}
	body.timer = time.AfterFunc(t.after, body.stall)
	resp.Body = body
	return resp, nil
}

// stallReader cancels its request when no byte came for after.
type stallReader struct {
	body    io.ReadCloser
	after   time.Duration
	cancel  context.CancelFunc
	timer   *time.Timer
	stalled atomic.Bool
}

func (r *stallReader) stall() {
	r.stalled.Store(true)
	r.cancel()
}

func (r *stallReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if r.stalled.Load() {
		return n, fmt.Errorf("%w: nothing received for %v", errStalled, r.after)
	}
	if n > 0 {
		r.timer.Reset(r.after)
	}
	return n, err
}

func (r *stallReader) Close() error {
	r.timer.Stop()
	r.cancel()
	return r.body.Close()
}

// IsTimeout reports whether err says a registry did not answer in time:
// a request's timeout, a body that stalled, or a context's deadline.
func IsTimeout(err error) bool { return errors.Is(err, ErrTimeout) || isTimeout(err) }
