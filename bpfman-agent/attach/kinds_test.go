package attach_test

import (
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
)

// TestEveryKindHasAHook checks that the agent has a hook for every
// registered program kind's hook, and for every hook an application's
// program can name.
func TestEveryKindHasAHook(t *testing.T) {
	hooks := map[string]bool{}
	for _, h := range attach.All() {
		hooks[h.Name()] = true
	}
	for _, k := range bpfleetv1.ProgramKinds {
		if k.Hook != "" && !hooks[k.Hook] {
			t.Errorf("%s: the agent has no hook %s (a file in bpfman-agent/attach)", k.Kind, k.Hook)
		}
	}
	for _, p := range []bpfleetv1.ApplicationProgram{
		{Tracepoint: &bpfleetv1.TracepointAttach{}}, {XDP: &bpfleetv1.XDPAttach{}}, {TCX: &bpfleetv1.TCXAttach{}},
		{Uprobe: &bpfleetv1.UprobeAttach{}}, {Kprobe: &bpfleetv1.KprobeAttach{}}, {Fentry: &bpfleetv1.FentryAttach{}},
		{Fexit: &bpfleetv1.FentryAttach{}}, {Cgroup: &bpfleetv1.CgroupAttach{}}, {LSM: &bpfleetv1.LsmAttach{}},
	} {
		if hook := p.AttachPoint().Hook; !hooks[hook] {
			t.Errorf("an application's program on %q: the agent has no such hook", hook)
		}
	}
}
