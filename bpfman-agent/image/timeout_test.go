package image_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/internal/cosign"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// hangGuard bounds a test against today's hang: a fetch still running
// after it fails the test instead of blocking it.
const hangGuard = 20 * time.Second

// testTimeouts are short request bounds, so the tests take a second.
var testTimeouts = oci.Timeouts{Connect: time.Second, Header: 300 * time.Millisecond}

// hangingRegistry accepts TCP connections on 127.0.0.1 and never answers:
// no byte is read or written until the test ends.
func hangingRegistry(t *testing.T) string {
	t.Helper()
	host, _ := countingHangingRegistry(t)
	return host
}

// stallingProxy serves upstream's registry, except the requests stall
// picks: for those it sends upstream's headers and the first bytes of its
// body, then nothing until the test ends (or, with before, not even the
// headers).
func stallingProxy(t *testing.T, upstream string, before bool, stall func(path string) bool) string {
	t.Helper()
	done := make(chan struct{})
	target := &url.URL{Scheme: "http", Host: upstream}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost || r.Method == http.MethodPut || !stall(r.URL.Path) {
			proxy.ServeHTTP(w, r)
			return
		}
		if !before {
			sendStart(w, r, target)
		}
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.Listener.Addr().String()
}

// sendStart sends the headers upstream answers r with, and one byte of
// the body.
func sendStart(w http.ResponseWriter, r *http.Request, target *url.URL) {
	u := *r.URL
	u.Scheme, u.Host = target.Scheme, target.Host
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String(), nil)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.CopyN(w, resp.Body, 1)
	w.(http.Flusher).Flush()
}

// guarded is a context canceled (not timed out: a deadline would read as
// the registry's timeout) once hangGuard has passed.
func guarded(t *testing.T) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	timer := time.AfterFunc(hangGuard, func() { cancel(fmt.Errorf("still hanging after %v", hangGuard)) })
	t.Cleanup(func() { timer.Stop(); cancel(nil) })
	return ctx
}

// fetchGuarded fetches ref from store, failing the test if the fetch
// still runs after hangGuard; it returns the error and how long it took.
func fetchGuarded(t *testing.T, store *image.Store, ref string) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	_, err := store.Fetch(guarded(t), ref, nil, image.PullIfNotPresent)
	return err, time.Since(start)
}

// wantTimedOut checks err is a transient pull failure naming host and
// saying it timed out.
func wantTimedOut(t *testing.T, err error, host string) {
	t.Helper()
	wantReason(t, err, image.ReasonPullFailed)
	if msg := err.Error(); !strings.Contains(msg, "registry "+host+" timed out") {
		t.Errorf("message %q: want it to say registry %s timed out", msg, host)
	}
}

const someDigest = "sha256:0123456789012345678901234567890123456789012345678901234567890123"

// A registry that accepts the connection and never answers does not hang
// the agent: the pull fails within the request timeout, as a transient
// pull failure that names the registry and says it timed out (issue 14).
func TestPullFromAHangingRegistryTimesOut(t *testing.T) {
	host := hangingRegistry(t)
	store, _ := newStore(t, image.WithRequestTimeouts(testTimeouts), image.WithPullTimeout(time.Minute))
	err, took := fetchGuarded(t, store, host+"/bpf/counter@"+someDigest)
	wantTimedOut(t, err, host)
	t.Logf("a fetch from a registry that never answers failed after %v (header timeout %v): %v", took.Round(time.Millisecond), testTimeouts.Header, err)
}

// A registry that sends the headers, then stops sending the body midway,
// does not hang the agent either: of a manifest or of a layer.
func TestPullOfAStalledBodyTimesOut(t *testing.T) {
	upstream, _ := startRegistry(t, nil)
	pinned := push(t, upstream+"/bpf/counter:v1", counterBytecode(t), nil)
	digest := pinned[strings.Index(pinned, "@")+1:]
	for name, part := range map[string]string{"manifest": "/manifests/", "layer": "/blobs/"} {
		t.Run(name, func(t *testing.T) {
			host := stallingProxy(t, upstream, false, func(path string) bool { return strings.Contains(path, part) })
			store, _ := newStore(t, image.WithRequestTimeouts(testTimeouts), image.WithPullTimeout(time.Minute))
			err, took := fetchGuarded(t, store, host+"/bpf/counter@"+digest)
			wantTimedOut(t, err, host)
			t.Logf("stalled %s: failed after %v: %v", name, took.Round(time.Millisecond), err)
		})
	}
}

// A registry that answers each request in time but never finishes the
// pull is stopped by the pull's own deadline.
func TestPullDeadline(t *testing.T) {
	host := hangingRegistry(t)
	store, _ := newStore(t, image.WithRequestTimeouts(oci.Timeouts{Connect: time.Minute, Header: time.Minute}),
		image.WithPullTimeout(500*time.Millisecond))
	err, _ := fetchGuarded(t, store, host+"/bpf/counter@"+someDigest)
	wantTimedOut(t, err, host)
	if !strings.Contains(err.Error(), "the pull took longer than 500ms") {
		t.Errorf("message %q: want it to say the pull took longer than 500ms", err)
	}
}

// keySecrets is what the agent reads through the API: no credentials, and
// one public key.
type keySecrets struct{ key crypto.PublicKey }

func (keySecrets) Credentials(context.Context, *bpfleetv1.SecretReference, string) (*oci.Credentials, error) {
	return nil, nil
}

func (s keySecrets) PublicKeys(context.Context, []bpfleetv1.KeyReference) ([]cosign.Key, error) {
	return []cosign.Key{{Name: "test", Public: s.key}}, nil
}

// Looking for an image's signatures at a registry that serves the image
// but never answers for its signatures is bounded too: a transient pull
// failure, not a hang, nor a verdict on the signature.
func TestSignatureLookupTimesOut(t *testing.T) {
	upstream, _ := startRegistry(t, nil)
	pinned := push(t, upstream+"/bpf/counter:v1", counterBytecode(t), nil)
	digest := pinned[strings.Index(pinned, "@")+1:]
	host := stallingProxy(t, upstream, true, func(path string) bool {
		return strings.Contains(path, ".sig") || strings.Contains(path, "/referrers/")
	})
	store, _ := newStore(t, image.WithRequestTimeouts(testTimeouts), image.WithPullTimeout(time.Minute))
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := image.NewFetcher(store, keySecrets{key: priv.Public()})
	_, _, err = f.Bytecode(guarded(t), image.Source{
		Ref:    host + "/bpf/counter@" + digest,
		Verify: []bpfleetv1.ImageVerification{{Keys: []bpfleetv1.KeyReference{{SecretReference: bpfleetv1.SecretReference{Name: "k", Namespace: "ns"}}}}},
	})
	wantTimedOut(t, err, host)
}

// A registry that timed out is not asked again for a while: the node's
// other programs pulling from it fail at once with the same reason, so a
// pass costs one timeout, not one per program (each would add the
// timeout to the pass, and enough of them the liveness bound).
func TestSilentRegistryIsNotAskedAgain(t *testing.T) {
	host, accepted := countingHangingRegistry(t)
	store, _ := newStore(t, image.WithRequestTimeouts(testTimeouts), image.WithPullTimeout(time.Minute))
	err, _ := fetchGuarded(t, store, host+"/bpf/counter@"+someDigest)
	wantTimedOut(t, err, host)
	asked := accepted()
	err, took := fetchGuarded(t, store, host+"/bpf/other@"+someDigest)
	wantTimedOut(t, err, host)
	if !strings.Contains(err.Error(), "not asked again before") {
		t.Errorf("message %q: want it to say when the registry is asked again", err)
	}
	if n := accepted(); n != asked {
		t.Errorf("the registry that timed out was asked again: %d connections after the first pull, %d after the second", asked, n)
	}
	t.Logf("the second pull from the silent registry failed after %v: %v", took.Round(time.Microsecond), err)
}

// countingHangingRegistry is hangingRegistry that also says how many
// connections it accepted so far.
func countingHangingRegistry(t *testing.T) (string, func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}
