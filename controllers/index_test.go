package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/controllers"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// The operator's cache finds the sets and reports that name a program by
// its index, as the operator's own writes and the agent's reports add the
// program to a node and take it away: a program added to a node's set is
// found there, a program whose nodeSelector no longer selects the node is
// not, and a report that still names it keeps the node holding it until
// the agent reports it gone.
func TestIndexFindsTheNodesHoldingAProgram(t *testing.T) {
	ctx := context.Background()
	c := indexedCache(t)
	createNode(t, "idx-1", map[string]string{"test": "index"})
	createNode(t, "idx-2", map[string]string{"test": "index-other"})
	p := pathProgram("index-a", map[string]string{"test": "index"})
	other := pathProgram("index-b", map[string]string{"test": "index-other"})
	for _, prog := range []*bpfleetv1.TracepointProgram{p, other} {
		if err := k8s.Create(ctx, prog); err != nil {
			t.Fatal(err)
		}
	}
	waitScheduled(t, "idx-1", p)
	waitScheduled(t, "idx-2", other)
	waitIndexed(t, c, p.UID, []string{"idx-1"}, nil)
	report(t, "idx-1", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
	waitIndexed(t, c, p.UID, []string{"idx-1"}, []string{"idx-1"})
	waitIndexed(t, c, other.UID, []string{"idx-2"}, nil)

	// The program moves from idx-1 to idx-2.
	p = getProgram(t, p.Name)
	base := p.DeepCopy()
	p.Spec.NodeSelector.MatchLabels = map[string]string{"test": "index-other"}
	if err := k8s.Patch(ctx, p, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "idx-2", p)
	waitIndexed(t, c, p.UID, []string{"idx-2"}, []string{"idx-1"}) // idx-1's agent has not unloaded it yet
	report(t, "idx-1", p, nil)
	waitIndexed(t, c, p.UID, []string{"idx-2"}, nil)
	waitIndexed(t, c, other.UID, []string{"idx-2"}, nil)
}

// indexedCache is a cache of the sets and reports with the operator's
// indexes, started for the test.
func indexedCache(t *testing.T) cache.Cache {
	t.Helper()
	c, err := cache.New(plane.Config, cache.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.IndexNodeObjects(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the indexed cache did not sync")
	}
	return c
}

// waitIndexed waits until c's indexes find program uid in the specs of
// the sets of nodes sets and the reports of nodes reports, and the
// operator counts the nodes of either as holding it.
func waitIndexed(t *testing.T, c client.Reader, uid types.UID, sets, reports []string) {
	t.Helper()
	ctx := context.Background()
	holding := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(sets), reports...))))
	eventually(t, "the index to find "+string(uid), func() (bool, error) {
		var s bpfleetv1.NodeProgramSetList
		if err := c.List(ctx, &s, client.MatchingFields{controllers.SetProgramsField: string(uid)}); err != nil {
			return false, err
		}
		var r bpfleetv1.NodeProgramReportList
		if err := c.List(ctx, &r, client.MatchingFields{controllers.ReportProgramsField: string(uid)}); err != nil {
			return false, err
		}
		gotHolding, err := controllers.StatesHolding(ctx, c, uid)
		if err != nil {
			return false, err
		}
		gotSets, gotReports := names(s.Items), names(r.Items)
		if !slices.Equal(gotSets, sets) || !slices.Equal(gotReports, reports) || !slices.Equal(gotHolding, holding) {
			return false, fmt.Errorf("sets %v, reports %v, holding %v; want %v, %v, %v", gotSets, gotReports, gotHolding, sets, reports, holding)
		}
		return true, nil
	})
}

func names[T any, P interface {
	*T
	client.Object
}](items []T) []string {
	var out []string
	for i := range items {
		out = append(out, P(&items[i]).GetName())
	}
	slices.Sort(out)
	return out
}
