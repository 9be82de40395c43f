package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/jsonpatch"
)

// NodeReconciler writes each node's NodeProgramSet spec from the programs
// that select it, and deletes the set of a Node that is gone once its
// agent is silent: a Node object deleted under a running host (kubectl
// delete node, a remediation tool, a kubelet registering again) must not
// unload what the host enforces.
type NodeReconciler struct {
	client.Client
	// Verify is the cluster-wide signature policy every image must meet,
	// or nil.
	Verify *bpfleetv1.ImageVerification
	// AgentNamespace holds the agents' Leases, and the revisions of
	// cluster-scoped programs' stable generations.
	AgentNamespace string
	// APIReader reads a revision the cache does not hold yet (nil: the
	// cache only).
	APIReader client.Reader

	// burst holds node passes while program changes keep coming.
	burst burst
	// sent holds what each node's last pass wrote until the cache has it.
	sent sentSpecs
	view *nodeView
	// ahead holds the programs handed over by program reconciles whose
	// writes are not in the cache yet, and starts their node passes (nil:
	// none).
	ahead *ahead
	// Resolver says what images hold, for checkPassPolicies; nil checks
	// nothing in node passes.
	Resolver Resolver
}

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=bpfleet.io,resources=nodeprogramsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=bpfleet.io,resources=mappolicies,verbs=get;list;watch

// Reconcile brings one node's set in line with the programs selecting it.
func (r *NodeReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if wait := r.burst.hold(req.Name, time.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	var node corev1.Node
	if err := r.Get(ctx, req.NamespacedName, &node); err != nil {
		if apierrors.IsNotFound(err) {
			return r.nodeGone(ctx, req.Name)
		}
		return ctrl.Result{}, err
	}
	programs, err := r.listPrograms(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	var policies bpfleetv1.MapPolicyList
	if err := r.List(ctx, &policies, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list map policies: %w", err)
	}
	byAge(policies.Items)
	r.checkPassPolicies(ctx, policies.Items, programs)
	stable := &stableReader{ctx: ctx, cache: r.Client, api: r.APIReader, namespace: r.AgentNamespace}
	in := specInputs{node: &node, programs: programs, policies: policies.Items, cluster: r.Verify, stable: stable.entry}
	err = r.writeSet(ctx, &node, in)
	return ctrl.Result{}, errors.Join(err, stable.err)
}

// writeSet writes node's set from in: creates it, or writes its spec.
func (r *NodeReconciler) writeSet(ctx context.Context, node *corev1.Node, in specInputs) error {
	var set bpfleetv1.NodeProgramSet
	err := r.Get(ctx, client.ObjectKeyFromObject(node), &set)
	if apierrors.IsNotFound(err) {
		err := r.createSet(ctx, node, in.desired(bpfleetv1.NodeProgramSetSpec{}))
		if tooLarge(err) {
			err = r.createSet(ctx, node, in.fitted(bpfleetv1.NodeProgramSetSpec{}, maxSetSpecBytes))
		}
		return err
	}
	if err != nil {
		return err
	}
	if in.caps, err = r.capabilities(ctx, &set); err != nil {
		return err
	}
	if len(set.Spec.Withheld) == 0 {
		err := r.writeSpec(ctx, &set, in.desired(set.Spec))
		if !tooLarge(err) {
			return err
		}
	}
	return r.writeFitted(ctx, &set, in)
}

// writeSpec patches set's spec to desired, if it differs and was not
// written over this version of set already (sentSpecs).
func (r *NodeReconciler) writeSpec(ctx context.Context, set *bpfleetv1.NodeProgramSet, desired bpfleetv1.NodeProgramSetSpec) error {
	if equality.Semantic.DeepEqual(desired, set.Spec) && !ownedByNode(set) {
		return nil
	}
	text, err := encodeSpec(desired)
	if err != nil || r.sent.already(set, text) {
		return err
	}
	over := set.ResourceVersion
	if err := r.patchSpec(ctx, set, desired, text); err != nil {
		return err
	}
	r.sent.remember(set.Name, over, text)
	return nil
}

// writeFitted writes set's spec without the changes that do not fit
// (specInputs.fitted): fitted to maxSetSpecBytes (or the size of the spec
// stored, if larger), else, if the API server refuses that too, with no
// change but the removals. A set that withholds programs is written so
// until the changes fit again.
func (r *NodeReconciler) writeFitted(ctx context.Context, set *bpfleetv1.NodeProgramSet, in specInputs) error {
	var err error
	for _, budget := range []int{max(maxSetSpecBytes, jsonSize(set.Spec.Programs)), 0} {
		if err = r.writeSpec(ctx, set, in.fitted(set.Spec, budget)); !tooLarge(err) {
			return err
		}
	}
	return fmt.Errorf("node program set %s is too large to store even with no program added or updated: %w", set.Name, err)
}

// patchSpec replaces the fields of set's spec that differ from desired, by
// a JSON patch. Each is a list the operator writes whole; a merge patch
// would say the same, and cost the API server a merge of the whole object
// (docs/benchmarks.md, "Scale"). Spec fields the operator does not know
// are left alone. Every stored set has a spec (defaulted to {}). text is
// desired encoded (encodeSpec).
func (r *NodeReconciler) patchSpec(ctx context.Context, set *bpfleetv1.NodeProgramSet, desired bpfleetv1.NodeProgramSetSpec, text specJSON) error {
	var ops []jsonpatch.Op
	if !set.Spec.Scheduled {
		ops = append(ops, jsonpatch.Add("/spec/scheduled", true))
	}
	if ownedByNode(set) {
		// Sets made before this release were owned by their Node, which
		// the garbage collector would follow.
		ops = append(ops, jsonpatch.Add("/metadata/ownerReferences", []metav1.OwnerReference{}))
	}
	if !equality.Semantic.DeepEqual(set.Spec.Programs, desired.Programs) {
		ops = append(ops, jsonpatch.Add("/spec/programs", text.programs))
	}
	if !equality.Semantic.DeepEqual(set.Spec.MapPolicies, desired.MapPolicies) {
		ops = append(ops, jsonpatch.Add("/spec/mapPolicies", text.mapPolicies))
	}
	if !equality.Semantic.DeepEqual(set.Spec.Withheld, desired.Withheld) {
		ops = append(ops, jsonpatch.Add("/spec/withheld", text.withheld))
	}
	if len(ops) == 0 {
		return nil
	}
	patch, err := jsonpatch.Patch(ops...)
	if err != nil {
		return fmt.Errorf("spec of %s: %w", set.Name, err)
	}
	gvk := bpfleetv1.GroupVersion.WithKind("NodeProgramSet")
	if _, err := jsonpatch.Send(ctx, r.Client, gvk, client.ObjectKeyFromObject(set), patch); err != nil {
		return fmt.Errorf("patch node program set %s: %w", set.Name, err)
	}
	return nil
}

// emptyNotNull makes an empty list [] in JSON, not null.
func emptyNotNull[S ~[]E, E any](list S) S {
	if list == nil {
		return S{}
	}
	return list
}

// capabilities are the kernel capabilities the agent of set's node
// reported; nil before it reports.
func (r *NodeReconciler) capabilities(ctx context.Context, set *bpfleetv1.NodeProgramSet) (*bpfleetv1.NodeCapabilities, error) {
	var report bpfleetv1.NodeProgramReport
	err := r.Get(ctx, client.ObjectKeyFromObject(set), &report, client.UnsafeDisableDeepCopy)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node program report %s: %w", set.Name, err)
	}
	return withReport(set, &report).Report.Capabilities, nil
}

// desiredSpec is a node's whole spec: its programs and the map policies
// for them. Pure but for stable's reads (desiredPrograms).
func desiredSpec(node *corev1.Node, caps *bpfleetv1.NodeCapabilities, programs []KindedProgram, policies []bpfleetv1.MapPolicy, current bpfleetv1.NodeProgramSetSpec, cluster *bpfleetv1.ImageVerification, stable stableEntries) bpfleetv1.NodeProgramSetSpec {
	progs := desiredPrograms(node, caps, programs, policies, current.Programs, cluster, stable)
	return bpfleetv1.NodeProgramSetSpec{
		Scheduled: true, Programs: progs,
		MapPolicies: nodeMapPolicies(policies, programs, progs, current.MapPolicies, cluster),
	}
}

func (r *NodeReconciler) createSet(ctx context.Context, node *corev1.Node, spec bpfleetv1.NodeProgramSetSpec) error {
	// Not owned by the Node: the garbage collector would delete the set
	// with a Node object, under a host that still runs (see nodeGone).
	set := bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: node.Name}, Spec: spec}
	err := r.Create(ctx, &set)
	if apierrors.IsAlreadyExists(err) {
		return nil // created by the agent or a previous pass; its watch event requeues the node
	}
	if err != nil {
		return fmt.Errorf("create node program set %s: %w", node.Name, err)
	}
	return nil
}

// nodeGone handles the set of a Node that is gone. While the node's agent
// lives (its Lease renewed, not released), its host
// still runs what the set says: the set stays, losing only the programs
// that were deleted (there is no Node to select new ones by), and a set
// the agent made stays unscheduled. Once the agent is silent too, the set
// is deleted.
func (r *NodeReconciler) nodeGone(ctx context.Context, name string) (ctrl.Result, error) {
	var set bpfleetv1.NodeProgramSet
	if err := r.Get(ctx, types.NamespacedName{Name: name}, &set); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	alive, err := r.agentAlive(ctx, &set)
	if err != nil || !alive {
		return ctrl.Result{}, errors.Join(err, r.deleteSet(ctx, &set))
	}
	if !set.Spec.Scheduled {
		// Made by the agent: scheduling it, with no Node to select
		// programs by, would unload everything the host runs.
		return ctrl.Result{RequeueAfter: agentSilentAfter}, nil
	}
	programs, err := r.listPrograms(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	kept := set.Spec.DeepCopy()
	kept.Programs = stillLive(set.Spec.Programs, programs)
	if equality.Semantic.DeepEqual(*kept, set.Spec) {
		return ctrl.Result{RequeueAfter: agentSilentAfter}, nil
	}
	text, err := encodeSpec(*kept)
	if err == nil {
		err = r.patchSpec(ctx, &set, *kept, text)
	}
	return ctrl.Result{RequeueAfter: agentSilentAfter}, err
}

// agentAlive reports whether the agent of set's node holds a live Lease:
// renewed within its duration, and not released (a stopping agent deletes
// it). Where no Node is, that is all the operator can know of the host;
// a set deleted under an agent that still runs is made anew by the agent,
// not scheduled, and unloads nothing. A Lease the cache does not show
// live is read again from the API server (when there is a reader), as the
// set is deleted on that answer: a Lease made just before its Node was
// deleted may not be in the cache yet.
func (r *NodeReconciler) agentAlive(ctx context.Context, set *bpfleetv1.NodeProgramSet) (bool, error) {
	lease, err := agentLease(ctx, r, r.AgentNamespace, set.Name)
	if err == nil && (lease == nil || expired(lease, time.Now())) && r.APIReader != nil {
		lease, err = agentLease(ctx, r.APIReader, r.AgentNamespace, set.Name)
	}
	if err != nil {
		return false, err
	}
	return lease != nil && !expired(lease, time.Now()), nil
}

// stillLive keeps the entries of programs that exist and are not being
// deleted. Pure.
func stillLive(entries []bpfleetv1.NodeProgram, programs []KindedProgram) []bpfleetv1.NodeProgram {
	live := make(map[types.UID]bool, len(programs))
	for _, kp := range programs {
		live[kp.Program.GetUID()] = kp.Program.GetDeletionTimestamp().IsZero()
	}
	out := make([]bpfleetv1.NodeProgram, 0, len(entries))
	for _, np := range entries {
		if live[np.UID] {
			out = append(out, np)
		}
	}
	return out
}

func (r *NodeReconciler) deleteSet(ctx context.Context, set *bpfleetv1.NodeProgramSet) error {
	if err := r.Delete(ctx, set, client.Preconditions{UID: &set.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete node program set %s: %w", set.Name, err)
	}
	return nil
}

// nodeOfLease maps an agent's Lease, named after its node, to the node.
func nodeOfLease(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetName()}}}
}

// leaseDeleted passes Lease deletions only.
func leaseDeleted() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// ownedByNode reports whether set is owned by a Node (sets made before
// this release were).
func ownedByNode(set *bpfleetv1.NodeProgramSet) bool {
	for _, o := range set.OwnerReferences {
		if o.Kind == "Node" && o.APIVersion == "v1" {
			return true
		}
	}
	return false
}

// listPrograms lists the programs of every kind, as the reconciles
// handed over have them.
func (r *NodeReconciler) listPrograms(ctx context.Context) ([]KindedProgram, error) {
	out, err := allPrograms(ctx, r)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Program = r.ahead.current(out[i].Program)
	}
	return allowedPrograms(ctx, r, out)
}

// allPrograms lists the programs of every kind from the cache: they are
// the cache's objects, not to be written.
func allPrograms(ctx context.Context, c client.Reader) ([]KindedProgram, error) {
	var out []KindedProgram
	for _, k := range Kinds {
		list := k.NewList()
		if err := c.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("list %s: %w", k.Name, err)
		}
		for _, p := range k.Items(list) {
			out = append(out, KindedProgram{Kind: k.Name, Program: p})
		}
	}
	return out, nil
}

// nodeWorkers is how many nodes' specs the operator writes at once.
const nodeWorkers = 8

// SetupWithManager registers the reconciler: Nodes, their sets, and every
// program kind (a program change touches every node).
func (r *NodeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	view, err := newNodeView(context.Background(), mgr.GetCache())
	if err != nil {
		return err
	}
	r.view = view
	b := ctrl.NewControllerManagedBy(mgr).
		Named("node").
		// Nodes are independent of each other: with one worker, a thousand
		// nodes wait on each other's API round trips (docs/benchmarks.md).
		WithOptions(controller.Options{MaxConcurrentReconciles: nodeWorkers}).
		For(&corev1.Node{}, builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Watches(&bpfleetv1.NodeProgramSet{}, &handler.EnqueueRequestForObject{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&bpfleetv1.NodeProgramReport{}, &handler.EnqueueRequestForObject{},
			builder.WithPredicates(changed(capabilitiesPart)))
	for _, k := range Kinds {
		b = b.Watches(k.New(), r.burst.enqueue(r.allNodes), builder.WithPredicates(scheduleChanged()))
	}
	b = b.Watches(&bpfleetv1.MapPolicy{}, r.burst.enqueue(r.allNodes), builder.WithPredicates(policyScheduleChanged()))
	// What the BpfApplicationPolicy allows and the signatures it requires
	// are part of every node's spec (allowedPrograms).
	b = b.Watches(&bpfleetv1.BpfApplicationPolicy{}, r.burst.enqueue(r.allNodes), builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	if r.ahead != nil {
		b = b.WatchesRawSource(source.Channel(r.ahead.passes, r.burst.enqueue(r.allNodes)))
	}
	// A released Lease (an agent stopping) ends the wait on a gone Node.
	b = b.Watches(&coordinationv1.Lease{}, handler.EnqueueRequestsFromMapFunc(nodeOfLease), builder.WithPredicates(leaseDeleted()))
	return b.Complete(r)
}

// capabilitiesPart is what a node reconciler reads of a report: the
// kernel's capabilities, and which set the report is about (a set made
// anew is reported on by a report that changes owner, and maybe nothing
// else).
func capabilitiesPart(r *bpfleetv1.NodeProgramReport) any {
	return []any{metav1.GetControllerOf(r), r.Status.Capabilities}
}

// scheduleChanged passes the program changes that can change what a node
// runs (scheduleDiffers).
func scheduleChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(bpfleetv1.Program)
		cur, curOK := e.ObjectNew.(bpfleetv1.Program)
		if !oldOK || !curOK {
			return true
		}
		return scheduleDiffers(old, cur)
	}}
}

// policyScheduleChanged passes the MapPolicy changes node specs follow:
// its spec, its deletion, its resolved entries image, the verdict of its
// checks (policyVerdict); not the node counts of its status.
func policyScheduleChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*bpfleetv1.MapPolicy)
		cur, curOK := e.ObjectNew.(*bpfleetv1.MapPolicy)
		if !oldOK || !curOK {
			return true
		}
		return old.Generation != cur.Generation || !old.DeletionTimestamp.Equal(cur.DeletionTimestamp) ||
			!equality.Semantic.DeepEqual(old.Status.EntriesImage, cur.Status.EntriesImage) ||
			policyVerdict(old) != policyVerdict(cur)
	}}
}

// rolloutDecision is the part of a program's rollout status that node
// specs follow. Before its first plan, a program that goes everywhere
// (goesEverywhereUnplanned) is already released to every node: the plan
// that says so changes no node. Nor does a new stable generation: it is
// the one every node runs, released to all (planRollout); a node that
// joins later has its own pass.
func rolloutDecision(p bpfleetv1.Program) *bpfleetv1.RolloutStatus {
	ro := p.ProgramStatus().Rollout
	if ro == nil {
		if !goesEverywhereUnplanned(p, nil) {
			return nil
		}
		return &bpfleetv1.RolloutStatus{Generation: p.GetGeneration(), Released: bpfleetv1.ReleaseAll}
	}
	d := *ro
	d.Generations, d.StableGeneration, d.StableRevision = nil, 0, ""
	return &d
}

// allNodes maps a program change to every node, and to every set whose
// Node is gone (a deleted program leaves those too). It reads only the
// names the cache holds: a burst of program changes maps each to every
// node.
func (r *NodeReconciler) allNodes(context.Context, client.Object) []reconcile.Request {
	nodes, sets := r.view.nodes.ListKeys(), r.view.sets.ListKeys()
	reqs := make([]reconcile.Request, 0, max(len(nodes), len(sets)))
	seen := make(map[string]bool, len(nodes))
	for _, name := range nodes {
		seen[name] = true
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: name}})
	}
	for _, name := range sets {
		if !seen[name] {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: name}})
		}
	}
	return reqs
}

// SetupAll registers every operator reconciler with the manager.
func SetupAll(mgr ctrl.Manager, resolver Resolver, o Options) error {
	if err := indexNodeObjects(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	if err := indexRevisions(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	held, err := heldKinds(mgr.GetRESTMapper())
	if err != nil {
		return err
	}
	deleted := &DeletedKinds{}
	uninstalling := func(kind string) func() bool {
		crd := crdOf(held, kind)
		return func() bool { return deleted.Has(crd) }
	}
	if err := (&UninstallReconciler{Client: mgr.GetClient(), Held: held, Deleted: deleted}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setup uninstall: %w", err)
	}
	handed := newAhead()
	nodes := &NodeReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Verify: o.Verify, AgentNamespace: o.agentAccount().Namespace,
		ahead: handed, Resolver: resolver,
	}
	if err := nodes.SetupWithManager(mgr); err != nil {
		return err
	}
	served := o.secretNamespaces()
	secrets := &SecretAccessReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Agent: o.agentAccount(), Namespaces: served}
	if err := secrets.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setup secret access: %w", err)
	}
	mp := &MapPolicyReconciler{
		Client: mgr.GetClient(), Resolver: resolver, Recorder: mgr.GetEventRecorder("bpfleet-operator"),
		StalledRetry: o.StalledRetry, SecretNamespaces: served, Uninstalling: uninstalling("MapPolicy"),
	}
	if err := mp.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setup MapPolicy: %w", err)
	}
	for _, k := range Kinds {
		r := &ProgramReconciler{
			Client: mgr.GetClient(), Kind: k, Resolver: resolver, Recorder: mgr.GetEventRecorder("bpfleet-operator"),
			AgentNamespace: o.agentAccount().Namespace, StalledRetry: o.StalledRetry, SecretNamespaces: served,
			ahead: handed, Uninstalling: uninstalling(k.Name),
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setup %s: %w", k.Name, err)
		}
	}
	return serveStatusMetrics(mgr)
}
