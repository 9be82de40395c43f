package nodesync

import (
	"fmt"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
)

// attachSpec turns the API's hook into the attacher that implements it.
func attachSpec(a bpfleetv1.AttachPoint) (attach.Spec, error) {
	switch {
	case a.Tracepoint != nil:
		group, name, ok := strings.Cut(a.Tracepoint.Name, "/")
		if !ok {
			return nil, fmt.Errorf("tracepoint %q: want group/event", a.Tracepoint.Name)
		}
		return attach.Tracepoint{Group: group, Name: name}, nil
	}
	return nil, fmt.Errorf("no attach point set")
}
