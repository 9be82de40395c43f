package ocitest

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/bpfleet/bpfleet/internal/oci"
)

// Handler returns an OCI registry handler. With creds, every request must
// carry them as HTTP basic auth, else it is answered 401 with a Basic
// challenge, as a registry with htpasswd auth does.
func Handler(creds *oci.Credentials) http.Handler {
	h := registry.New(
		registry.Logger(log.New(io.Discard, "", 0)),
		registry.WithReferrersSupport(true),
	)
	if creds == nil {
		return h
	}
	return basicAuth(h, *creds)
}

func basicAuth(next http.Handler, want oci.Credentials) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || !equal(user, want.Username) || !equal(pass, want.Password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="ocitest"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// shutdown stops srv, waiting at most a few seconds for requests in flight.
func shutdown(srv *http.Server, done <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	<-done
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Start serves a registry on addr ("127.0.0.1:0" picks a free port; it must be
// a loopback address, which oci speaks plain HTTP to) and returns its
// "host:port" and a function that stops it (safe to call twice). creds as
// for Handler.
func Start(addr string, creds *oci.Credentials) (host string, stop func(), err error) {
	if !oci.IsLoopback(addr) {
		return "", nil, fmt.Errorf("start registry on %s: not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("start registry: %w", err)
	}
	srv := &http.Server{Handler: Handler(creds), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Printf("ocitest: registry on %s: %v", ln.Addr(), err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { shutdown(srv, done) }) }
	return ln.Addr().String(), stop, nil
}

// DockerConfig is a docker config file (or kubernetes.io/dockerconfigjson
// Secret) holding creds for host, as `docker login host` writes it.
func DockerConfig(host string, creds *oci.Credentials) []byte {
	auth := base64.StdEncoding.EncodeToString([]byte(creds.Username + ":" + creds.Password))
	return fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, host, auth)
}

// Serve serves a registry (behind creds, if not nil) on 127.0.0.1 until
// the test ends and returns its host:port.
func Serve(tb testing.TB, creds *oci.Credentials) string {
	tb.Helper()
	host, stop, err := Start("127.0.0.1:0", creds)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return host
}
