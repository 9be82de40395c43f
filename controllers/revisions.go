package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A program's stable generation, the last that reached every node, is
// what a node gets that joins while a change is under way or halted. Its
// node entry is kept where Kubernetes keeps a rollout's history: in an
// apps/v1 ControllerRevision, as a DaemonSet's and a StatefulSet's are
// (Revision the generation, Data the entry), owned by the program (the
// garbage collector deletes it with the program) and labelled with its
// UID (bpfleetv1.ProgramUIDLabel). It lives in the program's namespace,
// or the operator's for a cluster-scoped program. The program's status
// names it (stableRevision) and holds nothing more of it.
//
// The revision is written before the status that names it; the program's
// older revisions are deleted once the status that names a newer one is
// stored. Node passes read it only for a node that runs nothing of the
// program and is not released the latest generation.

// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;create;delete

// revisionProgramField indexes the operator's ControllerRevisions by the
// UID of the program they belong to.
const revisionProgramField = "metadata.labels.programUID"

// revisionCache restricts the operator's cache of ControllerRevisions to
// the programs' (a cluster holds one per DaemonSet and StatefulSet
// version, and more).
func revisionCache() cache.ByObject {
	marked, _ := labels.NewRequirement(bpfleetv1.ProgramUIDLabel, selection.Exists, nil)
	return cache.ByObject{Label: labels.NewSelector().Add(*marked)}
}

// indexRevisions registers revisionProgramField with the manager's cache.
func indexRevisions(ctx context.Context, indexer client.FieldIndexer) error {
	err := indexer.IndexField(ctx, &appsv1.ControllerRevision{}, revisionProgramField, func(o client.Object) []string {
		return []string{o.GetLabels()[bpfleetv1.ProgramUIDLabel]}
	})
	if err != nil {
		return fmt.Errorf("index controller revisions by program: %w", err)
	}
	return nil
}

// revisionName names the revision of p's current generation: its kind
// and name (cut to fit), a hash of its UID (a program made anew under the
// same name has other revisions), its generation.
func revisionName(kind string, p bpfleetv1.Program) string {
	h := fnv.New32a()
	h.Write([]byte(p.GetUID()))
	suffix := fmt.Sprintf("-%08x-%d", h.Sum32(), p.GetGeneration())
	prefix := strings.ToLower(kind) + "-" + p.GetName()
	if room := 253 - len(suffix); len(prefix) > room {
		prefix = strings.TrimRight(prefix[:room], ".-")
	}
	return prefix + suffix
}

// revisionNamespace is where p's revisions live: p's namespace, or the
// operator's (operator) for a cluster-scoped program.
func revisionNamespace(p bpfleetv1.Program, operator string) string {
	if ns := p.GetNamespace(); ns != "" {
		return ns
	}
	return operator
}

// stableRevision is the revision that keeps the node entry of p's current
// generation, in namespace. Pure.
func stableRevision(kind string, p bpfleetv1.Program, namespace string) (*appsv1.ControllerRevision, error) {
	// Without the cluster's signature policies: a node's entry adds them
	// as they are when it is written (nodeEntry).
	entry, err := json.Marshal(nodeProgram(KindedProgram{Kind: kind, Program: p}, nil))
	if err != nil {
		return nil, fmt.Errorf("encode the node entry of %s: %w", p.GetName(), err)
	}
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: revisionName(kind, p), Namespace: namespace,
			Labels: map[string]string{bpfleetv1.ProgramUIDLabel: string(p.GetUID())},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: bpfleetv1.GroupVersion.String(), Kind: kind, Name: p.GetName(), UID: p.GetUID(), Controller: ptr.To(true),
			}},
		},
		Data:     runtime.RawExtension{Raw: entry},
		Revision: p.GetGeneration(),
	}, nil
}

// writeRevision writes the revision obj's rollout status names, if that
// is the current generation's (just made stable, or its revision
// deleted) and the cache does not hold it. An older generation's cannot
// be written again: the spec it came from is gone.
func (r *ProgramReconciler) writeRevision(ctx context.Context, obj bpfleetv1.Program) error {
	ro := obj.ProgramStatus().Rollout
	if ro == nil || ro.StableRevision == "" || ro.StableGeneration != obj.GetGeneration() {
		return nil
	}
	key := types.NamespacedName{Namespace: revisionNamespace(obj, r.AgentNamespace), Name: ro.StableRevision}
	err := r.Get(ctx, key, &appsv1.ControllerRevision{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	rev, err := stableRevision(r.Kind.Name, obj, key.Namespace)
	if err != nil {
		return err
	}
	if err := r.Create(ctx, rev); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create controller revision %s: %w", key, err)
	}
	return nil
}

// dropOldRevisions deletes obj's revisions older than the one its status,
// as stored, names.
func (r *ProgramReconciler) dropOldRevisions(ctx context.Context, obj bpfleetv1.Program) error {
	ro := obj.ProgramStatus().Rollout
	if ro == nil || ro.StableGeneration == 0 {
		return nil
	}
	var revs appsv1.ControllerRevisionList
	ns := revisionNamespace(obj, r.AgentNamespace)
	err := r.List(ctx, &revs, client.InNamespace(ns), client.MatchingFields{revisionProgramField: string(obj.GetUID())}, client.UnsafeDisableDeepCopy)
	if err != nil {
		return fmt.Errorf("list controller revisions: %w", err)
	}
	for _, rev := range revs.Items {
		if rev.Revision >= ro.StableGeneration {
			continue
		}
		old := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: rev.Name}}
		if err := r.Delete(ctx, old, client.Preconditions{UID: &rev.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete controller revision %s/%s: %w", ns, rev.Name, err)
		}
	}
	return nil
}

// stableEntries reads the node entry of a program's stable generation
// (RolloutStatus.StableRevision): ok is false if there is none.
type stableEntries func(p bpfleetv1.Program) (np bpfleetv1.NodeProgram, ok bool)

// stableReader reads programs' stable entries for one node pass, and
// keeps the error of a read that failed, for the pass to return.
type stableReader struct {
	ctx context.Context
	// cache is the operator's cache; api reads a revision written since
	// the cache last heard (the status naming it may come first, handed
	// over: see ahead).
	cache, api client.Reader
	// namespace holds the revisions of cluster-scoped programs.
	namespace string
	err       error
}

// entry is the node entry of p's stable generation, from the revision
// p's status names; none if it is gone, or not p's.
func (s *stableReader) entry(p bpfleetv1.Program) (bpfleetv1.NodeProgram, bool) {
	ro := p.ProgramStatus().Rollout
	if ro == nil || ro.StableRevision == "" {
		return bpfleetv1.NodeProgram{}, false
	}
	key := types.NamespacedName{Namespace: revisionNamespace(p, s.namespace), Name: ro.StableRevision}
	var rev appsv1.ControllerRevision
	err := s.cache.Get(s.ctx, key, &rev, client.UnsafeDisableDeepCopy)
	if apierrors.IsNotFound(err) && s.api != nil {
		err = s.api.Get(s.ctx, key, &rev)
	}
	if err != nil {
		if !apierrors.IsNotFound(err) {
			s.err = fmt.Errorf("controller revision %s: %w", key, err)
		}
		return bpfleetv1.NodeProgram{}, false
	}
	if rev.Labels[bpfleetv1.ProgramUIDLabel] != string(p.GetUID()) || rev.Revision != ro.StableGeneration {
		return bpfleetv1.NodeProgram{}, false
	}
	var np bpfleetv1.NodeProgram
	if err := json.Unmarshal(rev.Data.Raw, &np); err != nil { // not JSON; a field that does not decode sets Invalid
		s.err = fmt.Errorf("controller revision %s: %w", key, err)
		return bpfleetv1.NodeProgram{}, false
	}
	return np, true
}
