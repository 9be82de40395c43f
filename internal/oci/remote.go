package oci

import (
	"errors"
	"fmt"
	"net/http"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

var (
	// ErrNotFound is returned when the registry does not hold the repository,
	// tag or digest asked for.
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized is returned when the registry refuses the credentials
	// given, or asks for credentials none were given for.
	ErrUnauthorized = errors.New("unauthorized")
)

// Credentials are a username and password (or token) for a registry's basic
// auth or token service.
type Credentials struct {
	Username string
	Password string
}

// NewRepository returns a client for the repository that ref names, speaking
// plain HTTP to a loopback registry and using creds (may be nil) for it.
// Its requests are bounded by DefaultTimeouts.
func NewRepository(ref string, creds *Credentials) (*remote.Repository, error) {
	return NewRepositoryClient(ref, creds, defaultClient)
}

// NewRepositoryClient is NewRepository making its requests through client
// (see NewHTTPClient), which it shares with the token service, if any.
func NewRepositoryClient(ref string, creds *Credentials, client *http.Client) (*remote.Repository, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if r.Registry == dockerHub {
		r.Registry = dockerHubAPIHost
	}
	repo := &remote.Repository{
		Reference: r,
		PlainHTTP: IsLoopback(r.Registry),
		Client:    authClient(r.Registry, creds, client),
	}
	return repo, nil
}

func authClient(host string, creds *Credentials, client *http.Client) *auth.Client {
	c := &auth.Client{Client: client, Cache: auth.NewCache()}
	if creds != nil {
		c.Credential = auth.StaticCredential(host, auth.Credential{
			Username: creds.Username,
			Password: creds.Password,
		})
	}
	return c
}

// RemoteError maps a registry client error to ErrNotFound or ErrUnauthorized
// where it is one of those (keeping the registry's message for the latter),
// and wraps a timeout in ErrTimeout; any other error is returned unchanged.
func RemoteError(err error) error {
	var resp *errcode.ErrorResponse
	switch {
	case isTimeout(err):
		return timeoutError{err}
	case errors.Is(err, errdef.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return fmt.Errorf("%w: the registry asks for credentials and none were given: set a pull secret", ErrUnauthorized)
	case !errors.As(err, &resp):
		return err
	case resp.StatusCode == http.StatusNotFound:
		return ErrNotFound
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w (HTTP %d): check the pull secret's credentials for this registry",
			ErrUnauthorized, resp.StatusCode)
	}
	return err
}
