package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A set's entries are schemaless in the API server (each one JSON string):
// a hand edit that gives a field the wrong JSON type is stored. The informers that read every
// set still decode it (the operator keeps working on every node), and the
// operator writes the entry anew.
func TestHandEditedSetEntryIsWrittenAnew(t *testing.T) {
	ctx := context.Background()
	p := scheduledOn(t, "hand-edit", "edit-1", "edit-2")
	set := &bpfleetv1.NodeProgramSet{}
	set.Name = "edit-1"
	broken, _ := json.Marshal(fmt.Sprintf(`{"uid":%q,"generation":"one"}`, p.UID))
	edit := client.RawPatch(types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/programs/0","value":`+string(broken)+`}]`))
	if err := k8s.Patch(ctx, set, edit); err != nil {
		t.Fatalf("hand edit of a set entry: %v", err)
	}
	// The operator reads sets through its informer: it sees the edit (the
	// list still decodes) and writes the entry anew.
	waitScheduled(t, "edit-1", p)
	// The other nodes' sets are still followed. (A new program: a new
	// generation of p would roll out one node at a time, waiting for
	// reports no agent writes here.)
	q := pathProgram("hand-edit-2", map[string]string{"test": "hand-edit"})
	if err := k8s.Create(ctx, q); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "edit-2", q)
}
