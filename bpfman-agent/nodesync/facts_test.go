package nodesync

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
)

// A pass reads the installed pins for its facts only when a program's
// plan may name another's link (TCX, cgroup): a pass of tracepoints and
// applications reads none (its statuses read them only if one is not
// Ready).
func TestFactsReadInstalledPinsOnlyForOrderedHooks(t *testing.T) {
	entry := func(hook string) bpfleetv1.NodeProgram {
		return bpfleetv1.NodeProgram{UID: types.UID(hook), ProgramName: "p", Attach: bpfleetv1.AttachPoint{Hook: hook}}
	}
	app := bpfleetv1.NodeProgram{UID: "app", Programs: []bpfleetv1.ProgramAttachment{{Name: "p", Attach: bpfleetv1.AttachPoint{Hook: bpfleetv1.HookTCX}}}}
	for _, tc := range []struct {
		desired []bpfleetv1.NodeProgram
		read    bool
	}{
		{[]bpfleetv1.NodeProgram{entry(bpfleetv1.HookTracepoint), entry(bpfleetv1.HookXDP), app}, false},
		{[]bpfleetv1.NodeProgram{entry(bpfleetv1.HookTracepoint), entry(bpfleetv1.HookTCX)}, true},
		{[]bpfleetv1.NodeProgram{entry(bpfleetv1.HookCgroup)}, true},
	} {
		read := false
		gatherFacts(tc.desired, func() map[types.UID]programs.Loaded { read = true; return nil })
		if read != tc.read {
			t.Errorf("pass of %d programs (%s first): installed pins read %t, want %t", len(tc.desired), tc.desired[0].Attach.Hook, read, tc.read)
		}
	}
}
