package ocitest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// HangOnDigests serves upstream's registry, except a manifest asked for by
// digest (an agent's pull; the operator resolves tags): that request gets
// no answer until the test ends. It returns its host:port.
func HangOnDigests(tb testing.TB, upstream string) string {
	tb.Helper()
	done := make(chan struct{})
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: upstream})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/manifests/sha256:") {
			proxy.ServeHTTP(w, r)
			return
		}
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	tb.Cleanup(func() { close(done); srv.Close() })
	return srv.Listener.Addr().String()
}
