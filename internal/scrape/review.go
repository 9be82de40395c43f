package scrape

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// The filter asks the API server, as controller-runtime's
// filters.WithAuthenticationAndAuthorization does, without the
// k8s.io/apiserver machinery that package links in (half of each binary's
// code: CEL, OpenTelemetry, gRPC, every typed client), which a process
// maps into memory whether it serves metrics or not.
const (
	// reviewTimeout bounds each review.
	reviewTimeout = 10 * time.Second
	// allowedFor and refusedFor are how long a verdict is reused for the
	// same token, verb and path (the apiserver's delegating
	// authenticator keeps a token for a minute, its authorizer a denial
	// for 30 s).
	allowedFor = time.Minute
	refusedFor = 30 * time.Second
	// maxVerdicts bounds the verdicts kept: scrapers are few.
	maxVerdicts = 1024
)

// reviewFilter lets through the requests whose bearer token the API server
// authenticates (TokenReview) and authorizes for the request's verb and
// path (SubjectAccessReview): 401 without a token or with one it does not
// know, 403 when the caller may not, 500 when a review fails.
func reviewFilter(cfg *rest.Config, hc *http.Client) (metricsserver.Filter, error) {
	authn, err := authenticationv1client.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	authz, err := authorizationv1client.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	r := &reviewer{tokens: authn.TokenReviews(), access: authz.SubjectAccessReviews(), verdicts: map[[32]byte]verdict{}}
	return func(log logr.Logger, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			code, err := r.review(req)
			if err != nil {
				log.Error(err, "metrics request review failed")
			}
			if code != http.StatusOK {
				http.Error(w, http.StatusText(code), code)
				return
			}
			next.ServeHTTP(w, req)
		}), nil
	}, nil
}

// reviewer asks the API server about callers, and keeps its verdicts a
// while.
type reviewer struct {
	tokens authenticationv1client.TokenReviewInterface
	access authorizationv1client.SubjectAccessReviewInterface

	mu       sync.Mutex
	verdicts map[[32]byte]verdict // by hash of token, verb and path
}

// verdict is an HTTP status for a caller, until a time.
type verdict struct {
	code  int
	until time.Time
}

// review is the HTTP status req earns: 200 to serve it.
func (r *reviewer) review(req *http.Request) (int, error) {
	token, ok := bearer(req)
	if !ok {
		return http.StatusUnauthorized, nil
	}
	verb := strings.ToLower(req.Method)
	key := sha256.Sum256([]byte(verb + " " + req.URL.Path + " " + token))
	if code, ok := r.kept(key); ok {
		return code, nil
	}
	ctx, cancel := context.WithTimeout(req.Context(), reviewTimeout)
	defer cancel()
	code, err := r.ask(ctx, token, verb, req.URL.Path)
	if err == nil {
		r.keep(key, code)
	}
	return code, err
}

// bearer is the request's bearer token.
func bearer(req *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "bearer") && token != ""
}

// ask reviews token, then its user's right to verb path.
func (r *reviewer) ask(ctx context.Context, token, verb, path string) (int, error) {
	tr, err := r.tokens.Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return http.StatusInternalServerError, err
	}
	if !tr.Status.Authenticated {
		return http.StatusUnauthorized, nil
	}
	user := tr.Status.User
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra(user.Extra),
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
	}}
	sar, err = r.access.Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return http.StatusInternalServerError, err
	}
	if !sar.Status.Allowed {
		return http.StatusForbidden, nil
	}
	return http.StatusOK, nil
}

// extra is a token's extra user information, as a SubjectAccessReview
// takes it.
func extra(in map[string]authenticationv1.ExtraValue) map[string]authorizationv1.ExtraValue {
	if in == nil {
		return nil
	}
	out := make(map[string]authorizationv1.ExtraValue, len(in))
	for k, v := range in {
		out[k] = authorizationv1.ExtraValue(v)
	}
	return out
}

// kept is the verdict kept for key, if still valid.
func (r *reviewer) kept(key [32]byte) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.verdicts[key]
	if !ok || time.Now().After(v.until) {
		return 0, false
	}
	return v.code, true
}

// keep keeps a verdict for key; when too many are kept, the old ones go.
func (r *reviewer) keep(key [32]byte, code int) {
	ttl := refusedFor
	if code == http.StatusOK {
		ttl = allowedFor
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.verdicts) >= maxVerdicts {
		clear(r.verdicts)
	}
	r.verdicts[key] = verdict{code: code, until: time.Now().Add(ttl)}
}
