package controllers

import (
	"cmp"
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// programWorkers is how many programs of a kind are reconciled at once.
const programWorkers = 4

// Resolver turns an image reference into the manifest digest nodes load.
type Resolver interface {
	Resolve(ctx context.Context, img *bpfleetv1.ImageSource) (string, error)
}

// ProgramReconciler reconciles one program kind: image digest, finalizer,
// and the status aggregated from every selected node.
type ProgramReconciler struct {
	client.Client
	Kind     Kind
	Resolver Resolver
	Recorder recorder.EventRecorder
	// SecretNamespaces are where the Secrets a program names may be.
	SecretNamespaces SecretNamespaces
	// AgentNamespace holds the agents' Leases, and the revisions of
	// cluster-scoped programs' stable generations.
	AgentNamespace string
	// StalledRetry is how often a program stalled on its registry (image
	// not found, unauthorized) is tried again; 0: 5 minutes.
	StalledRetry time.Duration

	// Uninstalling reports whether the kind's CRD is being deleted (nil:
	// never; see UninstallReconciler).
	Uninstalling func() bool

	skeleton *skeleton[bpfleetv1.Program]
	view     *nodeView
	// ahead hands what a reconcile changed to the node passes before it
	// is written (nil: nothing is).
	ahead *ahead
}

// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one program's finalizer, digest and status up to date.
func (r *ProgramReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.skeleton.reconcile(ctx, req, r.finalize, r.resolveImage, r.aggregate)
}

// newSkeleton is the reconcile path of the reconciler's kind.
func (r *ProgramReconciler) newSkeleton() *skeleton[bpfleetv1.Program] {
	return &skeleton[bpfleetv1.Program]{
		client: r.Client, recorder: r.Recorder, uninstalling: r.Uninstalling, newObject: r.Kind.New,
		status: func(p bpfleetv1.Program) statusView {
			st := p.ProgramStatus()
			return statusView{whole: st, conditions: &st.Conditions, observedGeneration: &st.ObservedGeneration}
		},
		announce: []string{bpfleetv1.ConditionReady, bpfleetv1.ConditionStalled},
		// A silent agent sends no event: look again once one would count
		// as silent.
		resync:   agentSilentAfter,
		retry:    stalledRetry{after: cmp.Or(r.StalledRetry, defaultStalledRetry)},
		handOver: r.ahead.handOver,
		stored:   r.dropOldRevisions,
	}
}

// resolveImage resolves a new image reference once and records the
// digest, once the image holds what the program names (checkImage): at
// a new digest or a new generation. What is not checked is not
// scheduled: a failed check clears the digest, so that nodes keep what
// they run, and the next try resolves and checks again (a tag pushed
// anew is seen).
func (r *ProgramReconciler) resolveImage(ctx context.Context, obj bpfleetv1.Program) error {
	img, st := obj.Source().ByteCode.Image, obj.ProgramStatus()
	if err := checkApplication(ctx, r.Client, obj); err != nil {
		st.Image = nil
		return err
	}
	checked := resolved(img, st.Image) && st.ObservedGeneration == obj.GetGeneration()
	if err := resolveOnce(ctx, r.Resolver, r.SecretNamespaces, img, &st.Image); err != nil || img == nil || checked {
		return err
	}
	if err := checkImage(ctx, r.Resolver, obj); err != nil {
		st.Image = nil
		return err
	}
	return nil
}

// aggregate sums the selected nodes' reports into the program's status,
// and moves its rollout a step (aggregateProgram). A generation made
// stable is written in its revision first; if it cannot be, the status
// keeps naming the previous one.
func (r *ProgramReconciler) aggregate(ctx context.Context, obj bpfleetv1.Program) error {
	nodes, err := r.rolloutNodes(ctx, obj)
	if err != nil {
		return err
	}
	var was bpfleetv1.RolloutStatus
	if ro := obj.ProgramStatus().Rollout; ro != nil {
		was = *ro
	}
	aggregateProgram(r.Kind.Name, obj, nodes)
	if err := r.writeRevision(ctx, obj); err != nil {
		ro := obj.ProgramStatus().Rollout
		ro.StableGeneration, ro.StableRevision = was.StableGeneration, was.StableRevision
		return err
	}
	return nil
}

// rolloutNodes lists every selected node with its spec and report for the
// program.
func (r *ProgramReconciler) rolloutNodes(ctx context.Context, obj bpfleetv1.Program) ([]rolloutNode, error) {
	selected, canary := nodeSelector(obj), canarySelector(obj.Source().Rollout)
	now := time.Now()
	var out []rolloutNode
	for _, node := range r.view.allNodes() {
		if !selected.Matches(labels.Set(node.Labels)) {
			continue
		}
		n := rolloutNode{name: node.Name, canary: canary.Matches(labels.Set(node.Labels)), rank: rank(obj.GetUID(), node.Name)}
		if set, ok := r.view.state(node.Name); ok {
			lease, err := silenceLease(ctx, r, r.AgentNamespace, &set, now)
			if err != nil {
				return nil, err
			}
			n.asked, n.askedDigest = asked(&set, obj.GetUID())
			n.report = report(&set, lease, obj, r.Kind.Name, now)
		}
		out = append(out, n)
	}
	return out, nil
}

// askedGeneration is the generation of the program a node's spec holds.
func askedGeneration(set *nodeState, uid types.UID) int64 {
	gen, _ := asked(set, uid)
	return gen
}

// asked is the generation of the program a node's spec holds, and the
// digest of its image (what a report no longer repeats).
func asked(set *nodeState, uid types.UID) (int64, string) {
	if set == nil {
		return 0, ""
	}
	if np := entryOf(set.Spec.Programs, uid, specUID); np != nil {
		return np.Generation, oci.PinnedDigest(np.Image)
	}
	return 0, ""
}

// finalize waits until no node runs or is asked to run the program.
// Nodes that are gone do not count (their sets are deleted), nor do nodes
// whose agent has gone silent; it is checked again once a waiting node's
// agent would count as silent.
func (r *ProgramReconciler) finalize(ctx context.Context, obj bpfleetv1.Program) error {
	left, err := r.nodesHolding(ctx, obj.GetUID())
	if err != nil {
		return err
	}
	if left > 0 {
		return waiting(bpfleetv1.ReasonDeleting, agentSilentAfter, fmt.Sprintf("unloading from %d nodes", left))
	}
	return nil
}

// nodesHolding counts the nodes whose set or report still has uid.
func (r *ProgramReconciler) nodesHolding(ctx context.Context, uid types.UID) (int, error) {
	states, err := statesHolding(ctx, r, programsHeld, uid)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	n := 0
	for i := range states {
		set := &states[i]
		if !holds(set, uid) {
			continue
		}
		lease, err := silenceLease(ctx, r, r.AgentNamespace, set, now)
		if err != nil {
			return 0, err
		}
		if !silent(set, lease, now) {
			n++
		}
	}
	return n, nil
}

// holds reports whether set's spec or report names the program uid.
func holds(set *nodeState, uid types.UID) bool {
	return statusEntry(set, uid) != nil || askedGeneration(set, uid) != 0
}

// SetupWithManager registers the reconciler for its kind.
func (r *ProgramReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.skeleton = r.newSkeleton()
	view, err := newNodeView(context.Background(), mgr.GetCache())
	if err != nil {
		return err
	}
	r.view = view
	err = mgr.GetFieldIndexer().IndexField(context.Background(), r.Kind.New(), uidField, func(o client.Object) []string {
		return []string{string(o.GetUID())}
	})
	if err != nil {
		return fmt.Errorf("index %s by uid: %w", r.Kind.Name, err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(r.Kind.Name).
		// Programs are independent of each other; a new program's first
		// rollout step waits on this reconciler.
		WithOptions(controller.Options{MaxConcurrentReconciles: programWorkers}).
		For(r.Kind.New(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// Every update of a set or a report is a change (the agents beat
		// on Leases): no need to compare a hundred entries once per kind
		// on every event (docs/benchmarks.md).
		Watches(&bpfleetv1.NodeProgramSet{}, r.onSet()).
		Watches(&bpfleetv1.NodeProgramReport{}, r.onReport()).
		// An agent whose Lease had expired and is renewed again sends no
		// other event when it has nothing new to report.
		Watches(&coordinationv1.Lease{}, handler.EnqueueRequestsFromMapFunc(r.programsOnLease), builder.WithPredicates(agentReturned())).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.allPrograms), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// A namespaced kind's images are the BpfApplicationPolicy's to allow.
		Watches(&bpfleetv1.BpfApplicationPolicy{}, handler.EnqueueRequestsFromMapFunc(r.namespacedPrograms)).
		WatchesRawSource(r.skeleton.retry.source()).
		Complete(r)
}

// programsOnSet maps a node set to the programs of this kind it names or
// withholds.
func (r *ProgramReconciler) programsOnSet(_ context.Context, o client.Object) []reconcile.Request {
	set := o.(*bpfleetv1.NodeProgramSet)
	names := requests{kind: r.Kind.Name}
	for _, np := range set.Spec.Programs {
		names.add(np.Kind, entryName(np.Namespace, np.Name))
	}
	for _, w := range set.Spec.Withheld {
		names.add(w.Kind, entryName(w.Namespace, w.Name))
	}
	return names.reqs
}

// programsOnReport maps a node's report to the programs of this kind it
// names. A report names programs by UID only: the node's set says the
// kind and name of those it asks for; a program it no longer asks for
// (being removed) is found by UID.
func (r *ProgramReconciler) programsOnReport(ctx context.Context, o client.Object) []reconcile.Request {
	report := o.(*bpfleetv1.NodeProgramReport)
	uids := make([]types.UID, 0, len(report.Status.Programs))
	for _, ps := range report.Status.Programs {
		uids = append(uids, ps.UID)
	}
	return r.programsOf(ctx, report.Name, uids)
}

// programsOf maps the program UIDs a node's report names to the programs
// of this kind: through the node's set, which names them, else by UID.
func (r *ProgramReconciler) programsOf(ctx context.Context, node string, uids []types.UID) []reconcile.Request {
	spec := map[types.UID]bpfleetv1.NodeProgram{}
	var set bpfleetv1.NodeProgramSet
	if err := r.Get(ctx, types.NamespacedName{Name: node}, &set, client.UnsafeDisableDeepCopy); err == nil {
		for _, np := range set.Spec.Programs {
			spec[np.UID] = np
		}
	}
	names := requests{kind: r.Kind.Name}
	for _, uid := range uids {
		if np, ok := spec[uid]; ok {
			names.add(np.Kind, entryName(np.Namespace, np.Name))
		} else if name := r.nameOf(ctx, uid); name.Name != "" {
			names.add(r.Kind.Name, name)
		}
	}
	return names.reqs
}

// uidField indexes the programs of each kind by UID.
const uidField = "metadata.uid"

// nameOf is the name of this kind's program uid, empty if there is none.
func (r *ProgramReconciler) nameOf(ctx context.Context, uid types.UID) types.NamespacedName {
	list := r.Kind.NewList()
	if err := r.List(ctx, list, client.MatchingFields{uidField: string(uid)}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list programs by uid", "kind", r.Kind.Name)
		return types.NamespacedName{}
	}
	var name types.NamespacedName
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		name = client.ObjectKeyFromObject(o.(client.Object))
		return nil
	})
	return name
}

// programsOnLease maps an agent's Lease to the programs of this kind its
// node's set and report name.
func (r *ProgramReconciler) programsOnLease(ctx context.Context, o client.Object) []reconcile.Request {
	key := types.NamespacedName{Name: o.GetName()}
	var reqs []reconcile.Request
	var set bpfleetv1.NodeProgramSet
	if err := r.Get(ctx, key, &set, client.UnsafeDisableDeepCopy); err == nil {
		reqs = r.programsOnSet(ctx, &set)
	}
	var report bpfleetv1.NodeProgramReport
	if err := r.Get(ctx, key, &report, client.UnsafeDisableDeepCopy); err == nil {
		reqs = append(reqs, r.programsOnReport(ctx, &report)...)
	}
	return reqs
}

// entryName is the name of the program a node entry names.
func entryName(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}

// requests collects the distinct programs of one kind.
type requests struct {
	kind string
	seen map[types.NamespacedName]bool
	reqs []reconcile.Request
}

func (q *requests) add(kind string, name types.NamespacedName) {
	if kind != q.kind || q.seen[name] {
		return
	}
	if q.seen == nil {
		q.seen = map[types.NamespacedName]bool{}
	}
	q.seen[name] = true
	q.reqs = append(q.reqs, reconcile.Request{NamespacedName: name})
}

// namespacedPrograms maps a change of the BpfApplicationPolicy to every
// program of this kind, if it is namespaced.
func (r *ProgramReconciler) namespacedPrograms(ctx context.Context, o client.Object) []reconcile.Request {
	if !r.Kind.Namespaced {
		return nil
	}
	return r.allPrograms(ctx, o)
}

// allPrograms maps a node change to every program of this kind.
func (r *ProgramReconciler) allPrograms(ctx context.Context, _ client.Object) []reconcile.Request {
	list := r.Kind.NewList()
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list programs", "kind", r.Kind.Name)
		return nil
	}
	var reqs []reconcile.Request
	for _, p := range r.Kind.Items(list) {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
	}
	return reqs
}
