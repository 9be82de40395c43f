package mappolicy

import (
	"fmt"

	"github.com/cilium/ebpf"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/internal/kconfig"
)

// mapSpec finds the map in the object of one of the policy's programs.
func (w *Writer) mapSpec(nmp *bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) (*ebpf.MapSpec, error) {
	for _, uid := range nmp.Programs {
		obj, ok := objects[uid]
		if !ok {
			continue
		}
		spec, _, err := kconfig.ParseSpec(obj)
		if err != nil {
			return nil, err
		}
		if ms := spec.Maps[nmp.MapName]; ms != nil {
			return ms, nil
		}
		return nil, &failure.Invalid{Err: fmt.Errorf("the program's object has no map %q", nmp.MapName)}
	}
	return nil, &failure.Wait{What: "waiting for a selected program to run on this node"}
}

// policyMaps opens the maps to write: the shared map, or the map of each
// program that runs (a failed program does not hold the others back).
func (w *Writer) policyMaps(nmp *bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) ([]*ebpf.Map, func(), error) {
	var out []*ebpf.Map
	closeAll := func() {
		for _, m := range out {
			m.Close()
		}
	}
	if nmp.Shared != "" {
		m, err := w.programs.SharedMap(nmp.Shared)
		if err != nil {
			return nil, closeAll, fmt.Errorf("shared map %s: %w", nmp.Shared, err)
		}
		return append(out, m), func() { m.Close() }, nil
	}
	for _, uid := range nmp.Programs {
		if _, running := objects[uid]; !running {
			continue
		}
		m, err := w.programs.Map(string(uid), nmp.MapName)
		if err != nil {
			return out, closeAll, &failure.Wait{What: fmt.Sprintf("program %s has no map %s running yet: %v", uid, nmp.MapName, err)}
		}
		out = append(out, m)
	}
	return out, closeAll, nil
}
