package nodesync

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// writtenReport is what the agent remembers of the report it last wrote
// or read: its resourceVersion and a hash of its status, instead of a
// decoded copy in an informer (with a thousand programs, megabytes held
// and deep-copied each pass). The agent's cache holds only the report's
// metadata, which says whether it is there, whose it is and whether it
// changed since. Passes run one at a time: no lock.
type writtenReport struct {
	resourceVersion string
	sum             [sha256.Size]byte
}

// stale reports whether report must be written: the node's report is
// missing, not controlled by set (the set was made anew), or says
// something other than report (LastSync aside). It reads the report's
// metadata from cache c, and the report itself, through reader, only when
// the cache does not show the one the agent last wrote or read (someone
// else wrote or deleted it, the agent restarted, or the cache has not yet
// seen the agent's last write).
func (w *writtenReport) stale(ctx context.Context, c, reader client.Reader, report *bpfleetv1.NodeProgramReport, set *bpfleetv1.NodeProgramSet) (bool, error) {
	ok, err := w.cached(ctx, c, report.Name, set)
	if err == nil && !ok {
		ok, err = w.read(ctx, reader, report.Name, set)
	}
	if err != nil {
		return false, err
	}
	return !ok || statusSum(&report.Status) != w.sum, nil
}

// cached says whether cache c shows the report the agent last wrote or
// read, controlled by set.
func (w *writtenReport) cached(ctx context.Context, c client.Reader, name string, set *bpfleetv1.NodeProgramSet) (bool, error) {
	meta := objectMeta("NodeProgramReport", name)
	err := c.Get(ctx, types.NamespacedName{Name: name}, meta)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("node program report %s: %w", name, err)
	}
	return meta.ResourceVersion == w.resourceVersion && metav1.IsControlledBy(meta, set), nil
}

// read reads the report through reader and remembers it; false when there
// is none controlled by set.
func (w *writtenReport) read(ctx context.Context, reader client.Reader, name string, set *bpfleetv1.NodeProgramSet) (bool, error) {
	var live bpfleetv1.NodeProgramReport
	err := reader.Get(ctx, types.NamespacedName{Name: name}, &live)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("node program report %s: %w", name, err)
	}
	if !metav1.IsControlledBy(&live, set) {
		return false, nil
	}
	w.remember(&live)
	return true, nil
}

// remember records report as written (or read) at its resourceVersion.
func (w *writtenReport) remember(report *bpfleetv1.NodeProgramReport) {
	w.resourceVersion, w.sum = report.ResourceVersion, statusSum(&report.Status)
}

// forget makes the next pass read the report again.
func (w *writtenReport) forget() {
	*w = writtenReport{}
}

// statusSum hashes a report's status but for LastSync, which says when it
// was written, not what. JSON (sorted map keys, fields in order) makes
// equal statuses hash equally, also after a round trip through the API.
func statusSum(st *bpfleetv1.NodeProgramReportStatus) [sha256.Size]byte {
	s := *st
	s.LastSync = nil
	b, _ := json.Marshal(&s)
	return sha256.Sum256(b)
}
