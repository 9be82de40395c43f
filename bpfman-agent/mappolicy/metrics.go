package mappolicy

import (
	"github.com/cilium/ebpf"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
)

// publishMetrics records the usage of each policy's map, forgets the
// policies that left the node, and hands the exported maps to the
// Exporter. statuses are the policies', in order.
func (w *Writer) publishMetrics(policies []bpfleetv1.NodeMapPolicy, statuses []bpfleetv1.NodeMapPolicyStatus, objects map[types.UID][]byte) {
	w.recordUsage(policies, statuses)
	if w.exporter != nil {
		w.exporter.Set(w.exports(policies, objects))
	}
}

func (w *Writer) recordUsage(policies []bpfleetv1.NodeMapPolicy, statuses []bpfleetv1.NodeMapPolicyStatus) {
	now := make(map[string]string, len(policies))
	for i, st := range statuses {
		now[st.Name] = policies[i].MapName
		if prev, ok := w.metered[st.Name]; ok && prev != policies[i].MapName {
			metrics.ForgetPolicy(st.Name)
		}
		if st.MaxEntries > 0 {
			metrics.SetMapUsage(st.Name, policies[i].MapName, int(st.Entries), int(st.MaxEntries))
		}
	}
	for name := range w.metered {
		if _, ok := now[name]; !ok {
			metrics.ForgetPolicy(name)
		}
	}
	w.metered = now
}

// exports lists the maps of the exported policies that run on this node
// in this pass.
func (w *Writer) exports(policies []bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) []metrics.Export {
	var out []metrics.Export
	for i := range policies {
		nmp := &policies[i]
		if nmp.Export == nil {
			continue
		}
		spec, err := w.mapSpec(nmp, objects)
		if err != nil {
			continue // not running here (yet): the policy's status says why
		}
		out = append(out, w.policyExports(nmp, spec, objects)...)
	}
	return out
}

// policyExports is the shared map, or the map of each selected program
// that runs, labelled with the program's UID when there are several.
func (w *Writer) policyExports(nmp *bpfleetv1.NodeMapPolicy, spec *ebpf.MapSpec, objects map[types.UID][]byte) []metrics.Export {
	base := metrics.Export{
		Policy: nmp.Name, MapName: nmp.MapName, Type: string(nmp.Export.Type),
		MaxSeries: int(nmp.Export.MaxSeries), Key: spec.Key, Value: spec.Value,
	}
	if shared := nmp.Shared; shared != "" {
		base.Open = func() (*ebpf.Map, error) { return w.programs.SharedMap(shared) }
		return []metrics.Export{base}
	}
	var running []string
	for _, uid := range nmp.Programs {
		if _, ok := objects[uid]; ok {
			running = append(running, string(uid))
		}
	}
	out := make([]metrics.Export, 0, len(running))
	for _, uid := range running {
		x, mapName := base, nmp.MapName
		x.Open = func() (*ebpf.Map, error) { return w.programs.Map(uid, mapName) }
		if len(running) > 1 {
			x.Program = uid
		}
		out = append(out, x)
	}
	return out
}
