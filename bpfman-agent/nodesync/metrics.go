package nodesync

import (
	"context"

	"github.com/cilium/ebpf"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
	"github.com/bpfleet/bpfleet/internal/scrape"
)

// serveCollectors serves the agent's collectors (map exports, run
// statistics) while the manager runs. An agent that shares its process
// with others labels their series with its node, so that two agents'
// series never clash (a clash fails the whole scrape).
func serveCollectors(o Options, cs ...prometheus.Collector) manager.Runnable {
	if o.InProcess {
		for i, c := range cs {
			cs[i] = prometheus.WrapCollectorWith(prometheus.Labels{"node": o.NodeName}, c)
		}
	}
	return manager.RunnableFunc(func(ctx context.Context) error {
		return scrape.Serve(ctx, cs...)
	})
}

// publishMetrics records the usage of each policy's map, forgets the
// policies that left the node, and hands the exported maps to the
// Exporter. statuses are the policies', in order.
func (r *Reconciler) publishMetrics(policies []bpfleetv1.NodeMapPolicy, statuses []bpfleetv1.NodeMapPolicyStatus, objects map[types.UID][]byte) {
	r.recordUsage(policies, statuses)
	if r.Exporter != nil {
		r.Exporter.Set(r.exports(policies, objects))
	}
}

func (r *Reconciler) recordUsage(policies []bpfleetv1.NodeMapPolicy, statuses []bpfleetv1.NodeMapPolicyStatus) {
	now := make(map[string]string, len(policies))
	for i, st := range statuses {
		now[st.Name] = policies[i].MapName
		if prev, ok := r.metered[st.Name]; ok && prev != policies[i].MapName {
			metrics.ForgetPolicy(st.Name)
		}
		if st.MaxEntries > 0 {
			metrics.SetMapUsage(st.Name, policies[i].MapName, int(st.Entries), int(st.MaxEntries))
		}
	}
	for name := range r.metered {
		if _, ok := now[name]; !ok {
			metrics.ForgetPolicy(name)
		}
	}
	r.metered = now
}

// exports lists the maps of the exported policies that run on this node
// in this pass.
func (r *Reconciler) exports(policies []bpfleetv1.NodeMapPolicy, objects map[types.UID][]byte) []metrics.Export {
	var out []metrics.Export
	for i := range policies {
		nmp := &policies[i]
		if nmp.Export == nil {
			continue
		}
		spec, err := r.mapSpec(nmp, objects)
		if err != nil {
			continue // not running here (yet): the policy's status says why
		}
		out = append(out, r.policyExports(nmp, spec, objects)...)
	}
	return out
}

// policyExports is the shared map, or the map of each selected program
// that runs, labelled with the program's UID when there are several.
func (r *Reconciler) policyExports(nmp *bpfleetv1.NodeMapPolicy, spec *ebpf.MapSpec, objects map[types.UID][]byte) []metrics.Export {
	base := metrics.Export{
		Policy: nmp.Name, MapName: nmp.MapName, Type: string(nmp.Export.Type),
		MaxSeries: int(nmp.Export.MaxSeries), Key: spec.Key, Value: spec.Value,
	}
	if shared := nmp.Shared; shared != "" {
		base.Open = func() (*ebpf.Map, error) { return r.Programs.SharedMap(shared) }
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
		x.Open = func() (*ebpf.Map, error) { return r.Programs.Map(uid, mapName) }
		if len(running) > 1 {
			x.Program = uid
		}
		out = append(out, x)
	}
	return out
}
