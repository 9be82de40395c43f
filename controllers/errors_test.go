package controllers

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// Real registries' answers, through oci.Resolve, land in one class each:
// what only a change of spec or registry fixes is terminal (Stalled, with a
// reason of its own), anything else is retried with backoff.
func TestResolveErrorClasses(t *testing.T) {
	ctx := context.Background()
	open := ocitest.Serve(t, nil)
	locked := ocitest.Serve(t, &oci.Credentials{Username: "u", Password: "p"})
	if _, err := oci.Push(ctx, open+"/bpfleet/counter:v1", counter(), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		ref    string
		creds  *oci.Credentials
		class  errorClass
		reason string
	}{
		{"tag not found", open + "/bpfleet/counter:v9", nil, classTerminal, bpfleetv1.ReasonImageNotFound},
		{"repository not found", open + "/bpfleet/none:v1", nil, classTerminal, bpfleetv1.ReasonImageNotFound},
		{"no credentials", locked + "/bpfleet/counter:v1", nil, classTerminal, bpfleetv1.ReasonImageUnauthorized},
		{"wrong credentials", locked + "/bpfleet/counter:v1", &oci.Credentials{Username: "u", Password: "x"}, classTerminal, bpfleetv1.ReasonImageUnauthorized},
		{"invalid reference", open + "/Bad Repo:v1", nil, classTerminal, bpfleetv1.ReasonInvalidSpec},
		{"connection refused", "127.0.0.1:1/bpfleet/counter:v1", nil, classTransient, bpfleetv1.ReasonResolveFailed},
	} {
		_, err := oci.Resolve(ctx, tc.ref, tc.creds)
		if err == nil {
			t.Fatalf("%s: resolved", tc.name)
		}
		ce := classOf(fmt.Errorf("entriesFrom: %w", resolveError(err)))
		if ce == nil || ce.class != tc.class || ce.reason != tc.reason || ce.ready != bpfleetv1.ReasonResolveFailed {
			t.Errorf("%s (%v): classified %+v, want class %d, reason %s, Ready's reason ResolveFailed", tc.name, err, ce, tc.class, tc.reason)
		}
	}
}

func counter() oci.Bytecode {
	return oci.Bytecode{
		FileName: "tracepoint_counter.o", Object: bpf.TracepointCounter,
		Programs: map[string]string{"count_openat": "tracepoint"},
	}
}

// Each class sets its conditions and tells controller-runtime what next:
// terminal errors are TerminalErrors retried slowly, waits requeue without
// an error, other errors go back for backoff, untouched.
func TestErrorClassOutcomes(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:1: connection refused")
	for _, tc := range []struct {
		name                        string
		err                         error
		ready, reconciling, stalled metav1.ConditionStatus
		stalledReason               string
		requeueAfter                time.Duration
		terminal, returned, retry   bool
	}{
		{name: "none", err: nil, requeueAfter: time.Minute},
		{name: "image not found", err: resolveError(fmt.Errorf("resolve r/p:v1: %w", oci.ErrNotFound)),
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionFalse, stalled: metav1.ConditionTrue,
			stalledReason: bpfleetv1.ReasonImageNotFound, terminal: true, returned: true, retry: true},
		{name: "registry down", err: resolveError(refused),
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, stalled: metav1.ConditionFalse,
			stalledReason: bpfleetv1.ReasonReady, returned: true},
		{name: "waiting on nodes", err: waiting(bpfleetv1.ReasonDeleting, 3*time.Minute, "unloading from 2 nodes"),
			ready: metav1.ConditionFalse, reconciling: metav1.ConditionTrue, stalled: metav1.ConditionFalse,
			stalledReason: bpfleetv1.ReasonReady, requeueAfter: 3 * time.Minute},
		{name: "cache read", err: refused, returned: true},
	} {
		var conds []metav1.Condition
		if ce := classOf(tc.err); ce != nil {
			setConditions(&conds, 1, errorConditions(ce, tc.err.Error())...)
		}
		for typ, want := range map[string]metav1.ConditionStatus{
			bpfleetv1.ConditionReady: tc.ready, bpfleetv1.ConditionReconciling: tc.reconciling, bpfleetv1.ConditionStalled: tc.stalled,
		} {
			if want == metav1.ConditionFalse && abnormalTrue[typ] {
				want = "" // present only while True
			}
			c := meta.FindStatusCondition(conds, typ)
			if want == "" && c != nil || want != "" && (c == nil || c.Status != want) {
				t.Errorf("%s: %s = %+v, want %q", tc.name, typ, c, want)
			}
		}
		if c := meta.FindStatusCondition(conds, bpfleetv1.ConditionStalled); c != nil && c.Reason != tc.stalledReason {
			t.Errorf("%s: Stalled reason %s, want %s", tc.name, c.Reason, tc.stalledReason)
		}
		retried := false
		res, err := result(tc.err, time.Minute, func() { retried = true })
		if res.RequeueAfter != tc.requeueAfter || (err != nil) != tc.returned ||
			errors.Is(err, reconcile.TerminalError(nil)) != tc.terminal || retried != tc.retry {
			t.Errorf("%s: result %+v, %v (retry %t), want requeue after %v, returned %t, terminal %t, retry %t",
				tc.name, res, err, retried, tc.requeueAfter, tc.returned, tc.terminal, tc.retry)
		}
	}
}

// A registry that resolved the image and then went down is not a
// mismatch: reading the image fails as a resolution would (transient,
// ResolveFailed, retried with backoff), and nothing is cached: the next
// try reads it again.
func TestImageReadWhileRegistryDownIsTransient(t *testing.T) {
	ctx := context.Background()
	host, stop, err := ocitest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	img := &bpfleetv1.ImageSource{Ref: host + "/bpfleet/down:v1"}
	if _, err := oci.Push(ctx, img.Ref, oci.Bytecode{FileName: "down.o", Object: bpf.TracepointCounter,
		Programs: map[string]string{"count_openat": "tracepoint"}}, nil); err != nil {
		t.Fatal(err)
	}
	r := NewRegistryResolver(nil)
	digest, err := r.Resolve(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = r.contents(short, img, digest, false)
	if err == nil {
		t.Fatal("read an image from a registry that is down")
	}
	ce := classOf(contentsError(err))
	if ce == nil || ce.class != classTransient || ce.reason != bpfleetv1.ReasonResolveFailed {
		t.Errorf("registry down (%v): classified %+v, want transient ResolveFailed", err, ce)
	}
	if e := r.cache.entry(digest); e.contents != nil {
		t.Error("a failed read was cached")
	}
}
