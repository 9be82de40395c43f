package nodesync

import (
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
)

// gatherFacts is what hooks plan from: the node's interfaces (read when a
// hook first needs them) and the links the desired programs already hold
// (a TCX order names another program's link). The pass adds the links of
// each program it applies.
func gatherFacts(desired []bpfleetv1.NodeProgram, installed []programs.Loaded) *attach.Facts {
	facts := attach.LazyFacts()
	byUID := make(map[string]*bpfleetv1.NodeProgram, len(desired))
	for i := range desired {
		byUID[string(desired[i].UID)] = &desired[i]
	}
	for _, ld := range installed {
		if np := byUID[ld.UID]; np != nil {
			addLinks(facts, np, ld)
		}
	}
	return facts
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
