package controllers

import (
	"context"
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
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
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
// every namespace holding such a Secret, a Role listing their names and a
// RoleBinding to the agents' service account; a namespace whose Secrets
// are no longer named loses both. Its one request is the whole set.
type SecretAccessReconciler struct {
	client.Client
	// APIReader lists the operator's Roles uncached: they are few, and a
	// cache would hold every Role in the cluster.
	APIReader client.Reader
	// Agent is the agents' service account.
	Agent types.NamespacedName
}

// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete

func (r *SecretAccessReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var sets bpfleetv1.NodeProgramSetList
	if err := r.List(ctx, &sets); err != nil {
		return ctrl.Result{}, fmt.Errorf("list node program sets: %w", err)
	}
	want := namedSecrets(sets.Items)
	for ns, names := range want {
		if err := r.grant(ctx, ns, names); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.revokeOthers(ctx, want); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: secretAccessRecheck}, nil
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
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, role, func() error {
		role.Labels = secretAccessLabels
		role.Rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: names}}
		return nil
	}); err != nil {
		return fmt.Errorf("role %s/%s: %w", ns, secretAccessName, err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: secretAccessName, Namespace: ns}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, binding, func() error {
		binding.Labels = secretAccessLabels
		binding.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: secretAccessName}
		binding.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: r.Agent.Name, Namespace: r.Agent.Namespace}}
		return nil
	}); err != nil {
		return fmt.Errorf("role binding %s/%s: %w", ns, secretAccessName, err)
	}
	return nil
}

// revokeOthers deletes the grants of namespaces whose Secrets no node spec
// names any more.
func (r *SecretAccessReconciler) revokeOthers(ctx context.Context, want map[string][]string) error {
	var roles rbacv1.RoleList
	if err := r.APIReader.List(ctx, &roles, client.MatchingLabels(secretAccessLabels)); err != nil {
		return fmt.Errorf("list agent secret roles: %w", err)
	}
	for _, role := range roles.Items {
		if _, keep := want[role.Namespace]; keep || role.Name != secretAccessName {
			continue
		}
		for _, obj := range []client.Object{
			&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: secretAccessName, Namespace: role.Namespace}},
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: secretAccessName, Namespace: role.Namespace}},
		} {
			if err := r.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("revoke secrets of %s: %w", role.Namespace, err)
			}
		}
	}
	return nil
}

// SetupWithManager runs the reconciler on every change of a node's spec.
func (r *SecretAccessReconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: "agent-secrets"}}}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("secretaccess").
		Watches(&bpfleetv1.NodeProgramSet{}, handler.EnqueueRequestsFromMapFunc(all),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}
