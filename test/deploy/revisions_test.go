package deploy

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// The operator's ClusterRole lets it create and delete ControllerRevisions
// in every namespace (a BpfApplication's stable entry lives in the
// application's namespace); the admission policy of config/default lets it
// touch only programs' (labelled bpfleet.io/program-uid): a DaemonSet's
// rollback history is out of its reach.
func TestOperatorWritesOnlyProgramRevisions(t *testing.T) {
	installed(t)
	ctx := context.Background()
	admin := adminClient(t)
	revision := func(name string, labels map[string]string) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: labels},
			Revision: 1, Data: runtime.RawExtension{Raw: []byte(`{}`)}}
	}
	daemonSets := revision("web-7d9f", map[string]string{"controller-revision-hash": "7d9f"})
	if err := admin.Create(ctx, daemonSets); err != nil {
		t.Fatal(err)
	}
	op, err := client.New(serviceAccountConfig("bpfleet-system", "bpfleet-operator"), client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	// The API server loads policies asynchronously.
	eventually(t, "the operator refused a DaemonSet's revision", func() (bool, error) {
		err := op.Delete(ctx, revision("web-7d9f", nil))
		if err == nil {
			t.Fatal("the operator deleted a DaemonSet's ControllerRevision")
		}
		return strings.Contains(err.Error(), "only the ControllerRevisions of programs"), nil
	}, true)
	if err := op.Create(ctx, revision("unlabelled", nil)); err == nil || !strings.Contains(err.Error(), "labelled bpfleet.io/program-uid") {
		t.Errorf("the operator creating an unlabelled revision: %v, want a denial", err)
	}
	mine := revision("tracepointprogram-opens-1a2b3c4d-1", map[string]string{bpfleetv1.ProgramUIDLabel: "1a2b3c4d"})
	if err := op.Create(ctx, mine); err != nil {
		t.Fatalf("the operator creating a program's revision: %v", err)
	}
	if err := op.Delete(ctx, mine); err != nil {
		t.Errorf("the operator deleting a program's revision: %v", err)
	}
}
