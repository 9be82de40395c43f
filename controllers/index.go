package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// The operator's cache indexes the per-node objects by the resources they
// name, so that a pass over one program or MapPolicy that needs only the
// nodes holding it (a finalizer, a policy's status) reads those nodes'
// sets and reports, not every node's.
const (
	// setProgramsField indexes a NodeProgramSet by the UIDs of the
	// programs its spec asks for or withholds.
	setProgramsField = "spec.programs.uid"
	// setPoliciesField indexes a NodeProgramSet by the UIDs of the
	// MapPolicies its spec applies.
	setPoliciesField = "spec.mapPolicies.uid"
	// reportProgramsField indexes a NodeProgramReport by the UIDs of the
	// programs it reports on.
	reportProgramsField = "status.programs.uid"
	// reportPoliciesField indexes a NodeProgramReport by the UIDs of the
	// MapPolicies it reports on.
	reportPoliciesField = "status.mapPolicies.uid"
)

// holdingIndex names the indexes that find the nodes holding one kind of
// resource: by their set's spec and by their report.
type holdingIndex struct{ set, report string }

var (
	programsHeld = holdingIndex{set: setProgramsField, report: reportProgramsField}
	policiesHeld = holdingIndex{set: setPoliciesField, report: reportPoliciesField}
)

// indexNodeObjects registers the indexes with the manager's cache.
func indexNodeObjects(ctx context.Context, indexer client.FieldIndexer) error {
	for _, ix := range []struct {
		obj   client.Object
		field string
		uids  client.IndexerFunc
	}{
		{&bpfleetv1.NodeProgramSet{}, setProgramsField, setProgramUIDs},
		{&bpfleetv1.NodeProgramSet{}, setPoliciesField, setPolicyUIDs},
		{&bpfleetv1.NodeProgramReport{}, reportProgramsField, reportProgramUIDs},
		{&bpfleetv1.NodeProgramReport{}, reportPoliciesField, reportPolicyUIDs},
	} {
		if err := indexer.IndexField(ctx, ix.obj, ix.field, ix.uids); err != nil {
			return fmt.Errorf("index %T by %s: %w", ix.obj, ix.field, err)
		}
	}
	return nil
}

func setProgramUIDs(o client.Object) []string {
	spec := o.(*bpfleetv1.NodeProgramSet).Spec
	uids := make([]string, 0, len(spec.Programs)+len(spec.Withheld))
	for _, np := range spec.Programs {
		uids = append(uids, string(np.UID))
	}
	for _, w := range spec.Withheld {
		uids = append(uids, string(w.UID))
	}
	return uids
}

func setPolicyUIDs(o client.Object) []string {
	var uids []string
	for _, p := range o.(*bpfleetv1.NodeProgramSet).Spec.MapPolicies {
		uids = append(uids, string(p.UID))
	}
	return uids
}

func reportProgramUIDs(o client.Object) []string {
	var uids []string
	for _, ps := range o.(*bpfleetv1.NodeProgramReport).Status.Programs {
		uids = append(uids, string(ps.UID))
	}
	return uids
}

func reportPolicyUIDs(o client.Object) []string {
	var uids []string
	for _, ps := range o.(*bpfleetv1.NodeProgramReport).Status.MapPolicies {
		uids = append(uids, string(ps.UID))
	}
	return uids
}

// statesHolding are the nodes whose set or report names uid (by index):
// each node's set with its report, as withReport joins them. A report
// whose node has no set is no node's. From the cache: read-only.
func statesHolding(ctx context.Context, c client.Reader, index holdingIndex, uid types.UID) ([]nodeState, error) {
	var sets bpfleetv1.NodeProgramSetList
	if err := c.List(ctx, &sets, client.MatchingFields{index.set: string(uid)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list node program sets naming %s: %w", uid, err)
	}
	var reports bpfleetv1.NodeProgramReportList
	if err := c.List(ctx, &reports, client.MatchingFields{index.report: string(uid)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list node program reports naming %s: %w", uid, err)
	}
	reportOf := make(map[string]*bpfleetv1.NodeProgramReport, len(reports.Items))
	for i := range reports.Items {
		reportOf[reports.Items[i].Name] = &reports.Items[i]
	}
	out := make([]nodeState, 0, len(sets.Items)+len(reports.Items))
	for i := range sets.Items {
		set := &sets.Items[i]
		report, named := reportOf[set.Name]
		delete(reportOf, set.Name)
		if !named {
			var err error
			if report, err = cached(ctx, c, set.Name, &bpfleetv1.NodeProgramReport{}); err != nil {
				return nil, err
			}
		}
		out = append(out, withReport(set, report))
	}
	for name, report := range reportOf {
		set, err := cached(ctx, c, name, &bpfleetv1.NodeProgramSet{})
		if err != nil {
			return nil, err
		}
		if set != nil {
			out = append(out, withReport(set, report))
		}
	}
	return out, nil
}

// cached reads the cluster-scoped object name into obj, which it returns;
// nil if there is none. From the cache: read-only.
func cached[T client.Object](ctx context.Context, c client.Reader, name string, obj T) (T, error) {
	var none T
	err := c.Get(ctx, types.NamespacedName{Name: name}, obj, client.UnsafeDisableDeepCopy)
	if apierrors.IsNotFound(err) {
		return none, nil
	}
	if err != nil {
		return none, fmt.Errorf("get %T %s: %w", obj, name, err)
	}
	return obj, nil
}
