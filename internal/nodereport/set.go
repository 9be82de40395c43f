package nodereport

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// OwnSet gets node's set through c, creating it empty when the operator
// has not yet, so that capabilities are published from the start. When the
// operator made it meanwhile (c, a cache, has not seen it yet) it is read
// through reader.
func OwnSet(ctx context.Context, c client.Client, reader client.Reader, node string) (*bpfleetv1.NodeProgramSet, error) {
	var set bpfleetv1.NodeProgramSet
	err := c.Get(ctx, types.NamespacedName{Name: node}, &set)
	if apierrors.IsNotFound(err) {
		set = bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: node}}
		err = c.Create(ctx, &set)
		if apierrors.IsAlreadyExists(err) {
			err = reader.Get(ctx, types.NamespacedName{Name: node}, &set)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("node program set %s: %w", node, err)
	}
	return &set, nil
}
