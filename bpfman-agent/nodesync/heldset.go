package nodesync

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// heldSet is the node's set as the agent last read it. The agent's cache
// holds the set's metadata only: an informer's decoded copy of a set of a
// thousand programs, and its watch's decode buffers sized to the largest
// event, were megabytes of the idle agent's memory, and each pass copied
// the set out of it. A pass reads the set itself only when its
// resourceVersion moved, from the API server's watch cache (a version not
// older than the one the agent's cache saw). Passes never change the set
// they are given.
type heldSet struct {
	mu  sync.Mutex // the Lease's start and the first pass both get it
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

// get returns node's set, creating it empty when there is none yet (so
// that capabilities are published from the start). It reads the set's
// metadata from cache c; the set through reader when it changed.
func (h *heldSet) get(ctx context.Context, c client.Client, reader client.Reader, node string) (*bpfleetv1.NodeProgramSet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	meta := objectMeta("NodeProgramSet", node)
	err := c.Get(ctx, types.NamespacedName{Name: node}, meta)
	if apierrors.IsNotFound(err) {
		return h.create(ctx, c, reader, node)
	}
	if err != nil {
		return nil, fmt.Errorf("node program set %s: %w", node, err)
	}
	if h.set != nil && h.set.UID == meta.UID && h.set.ResourceVersion == meta.ResourceVersion {
		return h.set, nil
	}
	return h.read(ctx, reader, node, meta.ResourceVersion)
}

// read reads node's set at resourceVersion rv or newer ("": the latest).
func (h *heldSet) read(ctx context.Context, reader client.Reader, node, rv string) (*bpfleetv1.NodeProgramSet, error) {
	set := &bpfleetv1.NodeProgramSet{}
	err := reader.Get(ctx, types.NamespacedName{Name: node}, set, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: rv}})
	if err != nil {
		return nil, fmt.Errorf("node program set %s: %w", node, err)
	}
	h.set = set
	return set, nil
}

// create makes node's set, empty; when the operator made it meanwhile, it
// reads it.
func (h *heldSet) create(ctx context.Context, c client.Client, reader client.Reader, node string) (*bpfleetv1.NodeProgramSet, error) {
	set := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: node}}
	err := c.Create(ctx, set)
	if apierrors.IsAlreadyExists(err) {
		return h.read(ctx, reader, node, "")
	}
	if err != nil {
		return nil, fmt.Errorf("node program set %s: %w", node, err)
	}
	h.set = set
	return set, nil
}
