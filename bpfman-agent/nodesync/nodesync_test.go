package nodesync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/internal/nodereport"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		state    bpfleetv1.ProgramState
		reason   string
		terminal bool
	}{
		{"verifier", fmt.Errorf("apply: %w", &loader.Error{Reason: loader.ReasonVerifierRejected, Message: "bad", VerifierLog: "R1 !read_ok"}),
			bpfleetv1.StateFailed, bpfleetv1.ReasonVerifierRejected, true},
		{"unsupported", &loader.Error{Reason: loader.ReasonUnsupported, Message: "no kprobes"},
			bpfleetv1.StateUnsupported, bpfleetv1.ReasonUnsupported, true},
		{"attach is retried", &loader.Error{Reason: loader.ReasonAttachFailed, Message: "busy"},
			bpfleetv1.StateFailed, bpfleetv1.ReasonAttachFailed, false},
		{"pull is retried", &image.Error{Reason: image.ReasonPullFailed, Err: errors.New("connection refused")},
			bpfleetv1.StateFailed, bpfleetv1.ReasonImagePullFailed, false},
		{"not bpf", &image.Error{Reason: image.ReasonNotBPF, Err: errors.New("x86-64")},
			bpfleetv1.StateFailed, bpfleetv1.ReasonNotBPF, true},
		{"bad spec", &specError{errors.New("no attach point set")},
			bpfleetv1.StateFailed, bpfleetv1.ReasonInvalidSpec, true},
		{"waiting is pending", fmt.Errorf("tcx order: %w", &waitError{"TcxProgram a is not attached on eth0 yet"}),
			bpfleetv1.StatePending, bpfleetv1.ReasonWaiting, false},
		{"unknown is retried", errors.New("etcd hiccup"),
			bpfleetv1.StateFailed, bpfleetv1.ReasonLoadFailed, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := classify(tc.err)
			if f.state != tc.state || f.reason != tc.reason || f.terminal != tc.terminal {
				t.Errorf("classify = %s/%s terminal=%v, want %s/%s terminal=%v", f.state, f.reason, f.terminal, tc.state, tc.reason, tc.terminal)
			}
		})
	}
}

func TestRevision(t *testing.T) {
	np := bpfleetv1.NodeProgram{
		Name: "a", Generation: 1, ProgramName: "count_openat",
		GlobalData: map[string]bpfleetv1.GlobalValue{"a": "1", "b": "2"},
		Attach:     bpfleetv1.AttachPoint{Tracepoint: &bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}},
	}
	obj := []byte("elf")
	base := revision(&np, obj)
	same := np
	same.Name, same.Generation = "renamed", 7
	if revision(&same, obj) != base {
		t.Error("name or generation changed the revision; only what is loaded should")
	}
	changed := np
	changed.GlobalData = map[string]bpfleetv1.GlobalValue{"a": "1", "b": "3"}
	if revision(&changed, obj) == base || revision(&np, []byte("other")) == base {
		t.Error("a new constant or object kept the revision")
	}
	rehooked := np
	rehooked.Attach = bpfleetv1.AttachPoint{Tracepoint: &bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_close"}}
	code, hook, _ := strings.Cut(base, "-")
	c2, h2, _ := strings.Cut(revision(&rehooked, obj), "-")
	if c2 != code || h2 == hook {
		t.Errorf("a new hook should change only the hook part: %s vs %s-%s", base, c2, h2)
	}
	resized := np
	resized.Maps = []bpfleetv1.MapConfig{{Name: "counts", MaxEntries: 10}}
	if c3, _, _ := strings.Cut(revision(&resized, obj), "-"); c3 == code {
		t.Error("a new maxEntries kept the revision")
	}
	if err := pins.ValidateName("revision", base); err != nil {
		t.Error(err)
	}
}

func TestRevisionIgnoresWhichInterfaces(t *testing.T) {
	np := bpfleetv1.NodeProgram{ProgramName: "xdp_count", Attach: bpfleetv1.AttachPoint{XDP: &bpfleetv1.XDPAttach{
		Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}}, Mode: bpfleetv1.XDPAuto}}}
	more := *np.DeepCopy()
	more.Attach.XDP.Interfaces.Names = append(more.Attach.XDP.Interfaces.Names, "eth1")
	if revision(&np, nil) != revision(&more, nil) {
		t.Error("adding an interface changed the revision: it must add a link, not reload")
	}
	generic := *np.DeepCopy()
	generic.Attach.XDP.Mode = bpfleetv1.XDPGeneric
	if revision(&np, nil) == revision(&generic, nil) {
		t.Error("a new XDP mode kept the revision")
	}
}

// The Lease says the agent is alive, owned by the node's set, unless a
// pass has run for longer than the Lease lasts.
func TestAlive(t *testing.T) {
	var r Reconciler
	if _, err := r.alive(); err == nil {
		t.Error("alive before the node's set is known")
	}
	r.setUID.Store(types.UID("set-uid"))
	if uid, err := r.alive(); err != nil || uid != "set-uid" {
		t.Errorf("alive = %q, %v; want the set's UID", uid, err)
	}
	r.passStart.Store(time.Now().Add(-time.Minute).UnixNano())
	if _, err := r.alive(); err != nil {
		t.Errorf("a pass running for a minute: %v", err)
	}
	r.passStart.Store(time.Now().Add(-nodereport.LeaseDuration - time.Minute).UnixNano())
	if _, err := r.alive(); err == nil || !strings.Contains(err.Error(), "sync pass has run for") {
		t.Errorf("a pass stuck for longer than the Lease: %v, want an error saying so", err)
	}
}

// A program listed twice in the spec is applied once.
func TestUniqueSpecEntries(t *testing.T) {
	got := unique(context.Background(), []bpfleetv1.NodeProgram{
		{UID: "a", Name: "first"}, {UID: "b", Name: "other"}, {UID: "a", Name: "again"},
	})
	if len(got) != 2 || got[0].Name != "first" || got[1].Name != "other" {
		t.Errorf("unique = %+v, want first and other", got)
	}
}
