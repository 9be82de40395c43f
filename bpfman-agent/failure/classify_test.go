package failure_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/internal/statusmsg"
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
		{"bad spec", &failure.Invalid{Err: errors.New("no attach point set")},
			bpfleetv1.StateFailed, bpfleetv1.ReasonInvalidSpec, true},
		{"waiting is pending", fmt.Errorf("tcx order: %w", &failure.Wait{What: "TcxProgram a is not attached on eth0 yet"}),
			bpfleetv1.StatePending, bpfleetv1.ReasonWaiting, false},
		{"planned on a node lacking the facility", &failure.Unsupported{Missing: "no cgroup v2 hierarchy is mounted on the node"},
			bpfleetv1.StateUnsupported, bpfleetv1.ReasonUnsupported, true},
		{"unknown is retried", errors.New("etcd hiccup"),
			bpfleetv1.StateFailed, bpfleetv1.ReasonLoadFailed, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := failure.Classify(tc.err)
			if f.State != tc.state || f.Reason != tc.reason || f.Terminal != tc.terminal {
				t.Errorf("classify = %s/%s terminal=%v, want %s/%s terminal=%v", f.State, f.Reason, f.Terminal, tc.state, tc.reason, tc.terminal)
			}
		})
	}
}

// A failure's message is bounded: a 2,000-program object once gave a
// 978 KB message, more than a condition or the report can hold.
func TestMessageBounded(t *testing.T) {
	long := errors.New("programs missing: " + strings.Repeat("prog_ü, ", 100_000))
	f := failure.Classify(long)
	if len(f.Message) > statusmsg.Max || !strings.HasSuffix(f.Message, "bytes more)") || !utf8.ValidString(f.Message) {
		t.Errorf("message of %d bytes, ending %q", len(f.Message), f.Message[max(0, len(f.Message)-40):])
	}
	if short := failure.Classify(errors.New("busy")); short.Message != "busy" {
		t.Errorf("short message changed: %q", short.Message)
	}
}
