package nodesync

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// heldSet is the node's set as the agent last saw it. The agent watches
// its set itself, whole, and holds the last version the watch brought: a
// pass reads no set from the API server (a metadata-only watch and a read
// per change made each change wait one more round trip before the node
// loaded anything). It holds no informer's copy of the set, and each
// watch ends after one event, so that its decode buffers, sized to the
// set (megabytes with a thousand programs), are not held between changes.
// Passes never change the set they are given.
type heldSet struct {
	mu  sync.Mutex
	set *bpfleetv1.NodeProgramSet
}

// objectMeta is the metadata of the object of kind named name, as the
// agent's cache holds it.
func objectMeta(kind, name string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(bpfleetv1.GroupVersion.WithKind(kind))
	m.Name = name
	return m
}

// last is the set as the watch last brought it, nil before it brought
// one (or once it was deleted).
func (h *heldSet) last() *bpfleetv1.NodeProgramSet {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.set
}

// get returns node's set as the watch last brought it; before the watch
// brought one, or once it was deleted, it creates the set, empty (so
// that capabilities are published from the start), or reads it if it
// exists.
func (h *heldSet) get(ctx context.Context, c client.Client, reader client.Reader, node string) (*bpfleetv1.NodeProgramSet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set != nil {
		return h.set, nil
	}
	set := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: node}}
	err := c.Create(ctx, set)
	if apierrors.IsAlreadyExists(err) {
		set = &bpfleetv1.NodeProgramSet{}
		err = reader.Get(ctx, types.NamespacedName{Name: node}, set)
	}
	if err != nil {
		return nil, fmt.Errorf("node program set %s: %w", node, err)
	}
	h.set = withoutManagedFields(set)
	return h.set, nil
}

// watchRetry spaces the watch's attempts after an error.
const watchRetry = time.Second

// watch keeps the held set up to date with node's set until ctx ends,
// and calls changed when a pass must look at it: its spec changed, or it
// was made or deleted.
func (h *heldSet) watch(ctx context.Context, c client.WithWatch, node string, changed func()) {
	version := "" // where the watch resumes; "": list first
	for ctx.Err() == nil {
		var err error
		if version == "" {
			version, err = h.list(ctx, c, node, changed)
		} else {
			version, err = h.next(ctx, c, node, version, changed)
		}
		if err != nil && ctx.Err() == nil {
			ctrl.LoggerFrom(ctx).Error(err, "watch the node's set", "node", node)
			select {
			case <-ctx.Done():
			case <-time.After(watchRetry):
			}
		}
	}
}

// list reads node's set, if there is one, and returns the version to
// watch from. A pass follows, as after an informer's first list: the
// agent's first pass, or one after the watch lost track.
func (h *heldSet) list(ctx context.Context, c client.WithWatch, node string, changed func()) (string, error) {
	var list bpfleetv1.NodeProgramSetList
	if err := c.List(ctx, &list, ownObject(node)); err != nil {
		return "", fmt.Errorf("list: %w", err)
	}
	var set *bpfleetv1.NodeProgramSet
	if len(list.Items) > 0 {
		set = &list.Items[0]
	}
	h.offer(set)
	changed()
	return list.ResourceVersion, nil
}

// next waits for the next event of node's set after version, and returns
// the version to go on from ("": list again).
func (h *heldSet) next(ctx context.Context, c client.WithWatch, node, version string, changed func()) (string, error) {
	w, err := c.Watch(ctx, &bpfleetv1.NodeProgramSetList{}, ownObject(node),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: version, AllowWatchBookmarks: true}})
	if err != nil {
		return version, fmt.Errorf("watch: %w", err)
	}
	defer w.Stop() // one event per watch (see heldSet)
	var ev watch.Event
	select {
	case <-ctx.Done():
		return version, nil
	case e, open := <-w.ResultChan():
		if !open {
			return version, nil // the API server ended the watch: resume
		}
		ev = e
	}
	set, _ := ev.Object.(*bpfleetv1.NodeProgramSet)
	switch {
	case ev.Type == watch.Error:
		return "", fmt.Errorf("watch from version %s: %w", version, apierrors.FromObject(ev.Object))
	case set == nil:
		return version, fmt.Errorf("watch: unexpected %T", ev.Object)
	case ev.Type == watch.Added || ev.Type == watch.Modified:
		if h.offer(set) {
			changed()
		}
	case ev.Type == watch.Deleted:
		if h.offer(nil) {
			changed()
		}
	}
	return set.ResourceVersion, nil
}

// ownObject selects the node's own object.
func ownObject(node string) client.ListOption {
	return client.MatchingFields{"metadata.name": node}
}

// offer holds set (nil: there is none), and reports whether a pass must
// look at it.
func (h *heldSet) offer(set *bpfleetv1.NodeProgramSet) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.set
	h.set = withoutManagedFields(set)
	return passNeeded(old, set)
}

// passNeeded reports whether the set went from old to cur in a way a pass
// must see: made, deleted, or its spec changed (its generation moved).
func passNeeded(old, cur *bpfleetv1.NodeProgramSet) bool {
	if old == nil || cur == nil {
		return old != cur
	}
	return old.UID != cur.UID || old.Generation != cur.Generation
}

// withoutManagedFields drops set's managedFields, which the agent never
// reads.
func withoutManagedFields(set *bpfleetv1.NodeProgramSet) *bpfleetv1.NodeProgramSet {
	if set != nil {
		set.ManagedFields = nil
	}
	return set
}
