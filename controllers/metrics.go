package controllers

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/buildinfo"
	"github.com/bpfleet/bpfleet/internal/scrape"
)

var (
	programsDesc = prometheus.NewDesc("bpfleet_programs",
		"Program resources by kind and state: ready, progressing, stalled or deleting (from their conditions).",
		[]string{"kind", "state"}, nil)
	programNodesDesc = prometheus.NewDesc("bpfleet_program_nodes",
		"Nodes of each program resource by state: selected, ready, failed, unsupported (its status.nodes).",
		[]string{"kind", "program", "state"}, nil)
	rolloutDesc = prometheus.NewDesc("bpfleet_program_rollout_progress",
		"Share of each program's selected nodes that run its current generation, 0 to 1 (1 with no node selected).",
		[]string{"kind", "program"}, nil)
	policiesDesc = prometheus.NewDesc("bpfleet_map_policies",
		"MapPolicy resources by state: ready, progressing, stalled or deleting.",
		[]string{"state"}, nil)
)

func init() {
	ctrlmetrics.Registry.MustRegister(buildinfo.Get().Collector("bpfleet_operator_build_info",
		"The operator's build: always 1, labelled with its version, git revision and Go version."))
}

// programStates are the states bpfleet_programs reports, each always
// present (0 when no program is in it) so that dashboards show zeros.
var programStates = []string{"ready", "progressing", "stalled", "deleting"}

// statusCollector publishes the operator's view of every program and
// policy, read from the manager's cache at scrape time: nothing to keep
// in step, no series left behind by a deleted resource.
type statusCollector struct {
	reader client.Reader
}

// serveStatusMetrics serves a statusCollector while the manager runs.
func serveStatusMetrics(mgr manager.Manager) error {
	c := &statusCollector{reader: mgr.GetCache()}
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		return scrape.Serve(ctx, c)
	}))
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- programsDesc
	ch <- programNodesDesc
	ch <- rolloutDesc
	ch <- policiesDesc
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	for _, k := range Kinds {
		list := k.NewList()
		if err := c.reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			continue
		}
		counts := map[string]int{}
		for _, p := range k.Items(list) {
			counts[state(p, p.ProgramStatus().Conditions)]++
			n := p.ProgramStatus().Nodes
			for st, v := range map[string]int32{"selected": n.Selected, "ready": n.Ready, "failed": n.Failed, "unsupported": n.Unsupported} {
				ch <- prometheus.MustNewConstMetric(programNodesDesc, prometheus.GaugeValue, float64(v), k.Name, programRef(p), st)
			}
			ch <- prometheus.MustNewConstMetric(rolloutDesc, prometheus.GaugeValue, progress(n), k.Name, programRef(p))
		}
		for _, st := range programStates {
			ch <- prometheus.MustNewConstMetric(programsDesc, prometheus.GaugeValue, float64(counts[st]), k.Name, st)
		}
	}
	var policies bpfleetv1.MapPolicyList
	if err := c.reader.List(ctx, &policies, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	counts := map[string]int{}
	for i := range policies.Items {
		counts[state(&policies.Items[i], policies.Items[i].Status.Conditions)]++
	}
	for _, st := range programStates {
		ch <- prometheus.MustNewConstMetric(policiesDesc, prometheus.GaugeValue, float64(counts[st]), st)
	}
}

// progress is the share of selected nodes ready at the current generation.
func progress(n bpfleetv1.NodeCounts) float64 {
	if n.Selected == 0 {
		return 1
	}
	return float64(n.Ready) / float64(n.Selected)
}

// state names where a resource stands, from its conditions.
func state(obj client.Object, conds []metav1.Condition) string {
	switch {
	case !obj.GetDeletionTimestamp().IsZero():
		return "deleting"
	case meta.IsStatusConditionTrue(conds, bpfleetv1.ConditionStalled):
		return "stalled"
	case meta.IsStatusConditionTrue(conds, bpfleetv1.ConditionReady):
		return "ready"
	}
	return "progressing"
}

// programRef names p in metrics: its name, or namespace/name for a
// namespaced kind's (two namespaces may hold one name).
func programRef(p client.Object) string {
	if p.GetNamespace() == "" {
		return p.GetName()
	}
	return p.GetNamespace() + "/" + p.GetName()
}
