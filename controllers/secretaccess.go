package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// secretAccessName names the Role (and its RoleBinding) that lets agents
// read the Secrets of one namespace that node specs name.
const secretAccessName = "bpfleet-agent-secrets"

// secretAccessLabels mark those Roles and RoleBindings as the operator's.
var secretAccessLabels = map[string]string{
	"app.kubernetes.io/name":      "bpfleet",
	"app.kubernetes.io/component": "agent-secret-access",
}

// secretAccessRecheck is how often the grants are rebuilt even when no
// node spec changed (a Role edited or deleted by hand is restored).
const secretAccessRecheck = 10 * time.Minute

// SecretAccessReconciler grants the agents `get` on exactly the Secrets the
// node specs name (pull secrets, signature keys), and on no other: in
// every served namespace holding such a Secret, a Role listing their names
// and a RoleBinding to the agents' service account; a served namespace
// whose Secrets are no longer named loses both. A Secret outside the
// served namespaces is never granted (its program is refused, see
// SecretNamespaces). Its one request is the whole set.
type SecretAccessReconciler struct {
	client.Client
	// APIReader reads the operator's Roles uncached: they are few, and a
	// cache would hold every Role in the cluster.
	APIReader client.Reader
	// Agent is the agents' service account.
	Agent types.NamespacedName
	// Namespaces are the namespaces served: the only ones where it reads,
	// writes or deletes anything.
	Namespaces SecretNamespaces
}

// The operator's power over Secrets and Roles is the ClusterRole
// bpfleet-operator-secret-access below, which config/ binds with a
// RoleBinding in each served namespace, never cluster-wide: outside them
// the operator can neither read a Secret nor write a Role. Within them,
// it may update, patch, delete and get only the Role and RoleBinding named
// bpfleet-agent-secrets (resourceNames). `create` cannot be limited by
// name in Kubernetes RBAC (the name is not known when the request is
// authorized), so it is limited by namespace instead, and by RBAC's
// escalation check: a Role it creates can grant no more than the operator
// holds there (`get` on Secrets, and these verbs). Nothing needs list or watch:
// each served namespace's grant is read by name.
//
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get,roleName=bpfleet-operator-secret-access
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=create,roleName=bpfleet-operator-secret-access
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,resourceNames=bpfleet-agent-secrets,verbs=get;update;patch;delete,roleName=bpfleet-operator-secret-access

func (r *SecretAccessReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var sets bpfleetv1.NodeProgramSetList
	if err := r.List(ctx, &sets, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("list node program sets: %w", err)
	}
	want := namedSecrets(sets.Items)
	// One namespace failing (gone, terminating) must not hold back the
	// grants and revocations of the others.
	var errs []error
	for _, ns := range r.Namespaces {
		if names := want[ns]; len(names) > 0 {
			errs = append(errs, r.grant(ctx, ns, names))
		} else {
			errs = append(errs, r.revoke(ctx, ns))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return ctrl.Result{}, err
	}
	if foreign := r.notServed(want); len(foreign) > 0 {
		// Specs written before the namespace stopped being served (or by
		// an older operator): never granted; their programs are refused.
		ctrl.LoggerFrom(ctx).Info("node specs name Secrets outside the served namespaces; not granted", "namespaces", foreign)
	}
	return ctrl.Result{RequeueAfter: secretAccessRecheck}, nil
}

// notServed lists, sorted, the namespaces of want the operator does not
// serve.
func (r *SecretAccessReconciler) notServed(want map[string][]string) []string {
	var out []string
	for ns := range want {
		if !r.Namespaces.allows(ns) {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}

// namedSecrets lists, by namespace and sorted, the Secrets node specs name.
// Pure.
func namedSecrets(sets []bpfleetv1.NodeProgramSet) map[string][]string {
	seen := map[types.NamespacedName]bool{}
	add := func(ref *bpfleetv1.SecretReference) {
		if ref != nil {
			seen[types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}] = true
		}
	}
	addKeys := func(policies []bpfleetv1.ImageVerification) {
		for _, p := range policies {
			for i := range p.Keys {
				add(&p.Keys[i].SecretReference)
			}
		}
	}
	for _, s := range sets {
		for _, np := range s.Spec.Programs {
			add(np.PullSecret)
			addKeys(np.Verify)
		}
		for _, mp := range s.Spec.MapPolicies {
			if from := mp.EntriesFrom; from != nil {
				add(from.PullSecret)
				addKeys(from.Verify)
			}
		}
	}
	out := map[string][]string{}
	for ref := range seen {
		out[ref.Namespace] = append(out[ref.Namespace], ref.Name)
	}
	for ns := range out {
		slices.Sort(out[ns])
	}
	return out
}

// grant makes the Role and RoleBinding of namespace ns list names.
func (r *SecretAccessReconciler) grant(ctx context.Context, ns string, names []string) error {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: secretAccessName, Namespace: ns}}
	err := r.ensure(ctx, role, func() {
		role.Rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: names}}
	})
	if err != nil {
		return err
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: secretAccessName, Namespace: ns}}
	return r.ensure(ctx, binding, func() {
		binding.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: secretAccessName}
		binding.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: r.Agent.Name, Namespace: r.Agent.Namespace}}
	})
}

// ensure creates obj, or updates it if it is the operator's (labelled), as
// set makes it. It reads uncached: a cache would watch every Role in the
// cluster. An object of the same name that is not the operator's is left
// alone, and reported.
func (r *SecretAccessReconciler) ensure(ctx context.Context, obj client.Object, set func()) error {
	key := client.ObjectKeyFromObject(obj)
	err := r.APIReader.Get(ctx, key, obj)
	switch {
	case apierrors.IsNotFound(err):
		set()
		obj.SetLabels(secretAccessLabels)
		err = r.Create(ctx, obj)
	case err != nil:
	case !isOurs(obj):
		err = fmt.Errorf("exists and is not bpfleet's (labels %v): agents cannot read Secrets there", obj.GetLabels())
	default:
		set()
		err = r.Update(ctx, obj)
	}
	if err != nil {
		return fmt.Errorf("%T %s: %w", obj, key, err)
	}
	return nil
}

func isOurs(obj client.Object) bool {
	for k, v := range secretAccessLabels {
		if obj.GetLabels()[k] != v {
			return false
		}
	}
	return true
}

// revoke deletes the grant of namespace ns (its Role and RoleBinding,
// each on its own), if it is the operator's.
func (r *SecretAccessReconciler) revoke(ctx context.Context, ns string) error {
	var errs []error
	for _, obj := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		key := types.NamespacedName{Namespace: ns, Name: secretAccessName}
		err := r.APIReader.Get(ctx, key, obj)
		if err == nil && isOurs(obj) {
			err = r.Delete(ctx, obj)
		}
		if client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("revoke secrets of %s: %T: %w", ns, obj, err))
		}
	}
	return errors.Join(errs...)
}

// SetupWithManager runs the reconciler when the Secrets a node's spec names
// change (not on every change of a spec: a burst of programs writes a
// thousand).
func (r *SecretAccessReconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: "agent-secrets"}}}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("secretaccess").
		Watches(&bpfleetv1.NodeProgramSet{}, handler.EnqueueRequestsFromMapFunc(all),
			builder.WithPredicates(changed(secretsPart))).
		Complete(r)
}

// secretsPart is what the secret grants read of a set.
func secretsPart(s *bpfleetv1.NodeProgramSet) any {
	return namedSecrets([]bpfleetv1.NodeProgramSet{*s})
}
