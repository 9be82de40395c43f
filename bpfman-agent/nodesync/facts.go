package nodesync

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
)

// gatherFacts is what hooks plan from: the node's interfaces (read when a
// hook first needs them), the single-kind programs desired (which an
// order may name) and the links they already hold (a TCX order names
// another program's link), from installed (read only then). The pass adds the links of each program it applies.
func gatherFacts(desired []bpfleetv1.NodeProgram, installed func() map[types.UID]programs.Loaded) *attach.Facts {
	facts := attach.LazyFacts()
	facts.KnowRuns()
	for _, np := range desired {
		if len(np.Programs) == 0 {
			facts.Runs(np.Kind, np.Name)
		}
	}
	if !slices.ContainsFunc(desired, ordered) {
		return facts // nothing plans from another program's links
	}
	running := installed()
	for i := range desired {
		if ld, ok := running[desired[i].UID]; ok {
			addLinks(facts, &desired[i], ld)
		}
	}
	return facts
}

// ordered reports whether np is a program whose plan may name another
// program's link: a TCX or cgroup program, which an order places among
// the others on its hook. A pass of none reads no installed pins for its
// facts.
func ordered(np bpfleetv1.NodeProgram) bool {
	return len(np.Programs) == 0 && (np.Attach.Hook == bpfleetv1.HookTCX || np.Attach.Hook == bpfleetv1.HookCgroup)
}

// mayOrder reports whether a program of np attaches where an order may
// name another program (TCX, cgroup).
func mayOrder(np *bpfleetv1.NodeProgram) bool {
	return slices.ContainsFunc(np.Attachments(), func(a bpfleetv1.ProgramAttachment) bool {
		return a.Attach.Hook == bpfleetv1.HookTCX || a.Attach.Hook == bpfleetv1.HookCgroup
	})
}

// addLinks records the links np, a single program kind, holds, by target
// (the order of a TCX or cgroup program names another program of its
// kind).
func addLinks(facts *attach.Facts, np *bpfleetv1.NodeProgram, ld programs.Loaded) {
	if len(np.Programs) > 0 {
		return
	}
	links := sole(ld).Links
	ids := make(map[string]uint32, len(links))
	for target, l := range links {
		ids[target] = l.ID
	}
	facts.AddLinks(np.Kind, np.Name, ids)
}

func missingMessage(missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	return "waiting for interfaces: " + strings.Join(missing, ", ")
}
