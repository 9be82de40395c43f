package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// nodeView reads the Nodes, sets and reports of a program pass from the
// operator's informer cache by pointer. A program's status needs every
// node it selects, each with its set and report (a node that does not run
// the program may be silent, or unable to run it), and a client.Reader
// copies every object it returns, even with UnsafeDisableDeepCopy (each
// item of a list is a struct copy): listing every Node, set, report and
// Lease on each pass took 35 % of the operator's CPU at 1,000 nodes × 100
// programs (docs/benchmarks.md, "Scale"). The objects are the cache's:
// read-only.
type nodeView struct {
	nodes, sets, reports toolscache.Indexer
}

// newNodeView reads the informers of c, the manager's informer cache; it
// starts none.
func newNodeView(ctx context.Context, c cache.Cache) (*nodeView, error) {
	var v nodeView
	for _, ix := range []struct {
		obj  client.Object
		into *toolscache.Indexer
	}{
		{&corev1.Node{}, &v.nodes},
		{&bpfleetv1.NodeProgramSet{}, &v.sets},
		{&bpfleetv1.NodeProgramReport{}, &v.reports},
	} {
		informer, err := c.GetInformer(ctx, ix.obj, cache.BlockUntilSynced(false))
		if err != nil {
			return nil, fmt.Errorf("informer of %T: %w", ix.obj, err)
		}
		indexed, ok := informer.(interface{ GetIndexer() toolscache.Indexer })
		if !ok {
			return nil, fmt.Errorf("the cache's informer of %T (%T) has no indexer to read", ix.obj, informer)
		}
		*ix.into = indexed.GetIndexer()
	}
	return &v, nil
}

// allNodes are every Node in the cache.
func (v *nodeView) allNodes() []*corev1.Node {
	items := v.nodes.List()
	out := make([]*corev1.Node, 0, len(items))
	for _, o := range items {
		if n, ok := o.(*corev1.Node); ok {
			out = append(out, n)
		}
	}
	return out
}

// state is node's set joined with its report (withReport); ok is false
// if the node has no set.
func (v *nodeView) state(node string) (state nodeState, ok bool) {
	o, _, _ := v.sets.GetByKey(node)
	set, ok := o.(*bpfleetv1.NodeProgramSet)
	if !ok {
		return nodeState{}, false
	}
	o, _, _ = v.reports.GetByKey(node)
	report, _ := o.(*bpfleetv1.NodeProgramReport)
	return withReport(set, report), true
}
