package controllers

import (
	"reflect"
	"slices"
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// The operator's cache holds an application's per-program statuses once
// for every node that reports them alike: two nodes' reports of the same
// programs Ready (each with its own kernel IDs and links) share one list;
// a node where a program failed holds its own.
func TestReportsShareTheirProgramStatuses(t *testing.T) {
	report := func(node string, id uint32, state bpfleetv1.ProgramState, message string) *bpfleetv1.NodeProgramReport {
		r := &bpfleetv1.NodeProgramReport{}
		r.Name = node
		entry := bpfleetv1.NodeProgramStatus{UID: "u-shared-status", Generation: 1, State: state}
		for _, name := range []string{"flow_ingress", "flow_egress", "count_drops"} {
			entry.Programs = append(entry.Programs, bpfleetv1.ProgramAttachmentStatus{
				Name: name, State: bpfleetv1.StateReady, ProgramID: id,
				Links: []bpfleetv1.LinkStatus{{Target: "eth0", LinkID: id + 1}},
			})
			id += 2
		}
		entry.Programs[2].State, entry.Programs[2].Message = state, message
		r.Status.Programs = []bpfleetv1.NodeProgramStatus{entry}
		trimmed, err := trimReport(r)
		if err != nil {
			t.Fatal(err)
		}
		return trimmed.(*bpfleetv1.NodeProgramReport)
	}
	a := report("node-a", 10, bpfleetv1.StateReady, "").Status.Programs[0].Programs
	b := report("node-b", 70, bpfleetv1.StateReady, "").Status.Programs[0].Programs
	if &a[0] != &b[0] {
		t.Errorf("two nodes' reports of the same programs Ready hold their statuses apart (%p, %p): want one list", &a[0], &b[0])
	}
	if cap(a) != len(a) {
		t.Errorf("the shared list has room for %d statuses, holds %d", cap(a), len(a))
	}
	c := report("node-c", 90, bpfleetv1.StateFailed, "attach count_drops: no such tracepoint").Status.Programs[0].Programs
	if &c[0] == &a[0] {
		t.Fatal("a node where count_drops failed shares the list of the nodes where it is Ready")
	}
	if c[2].State != bpfleetv1.StateFailed || a[2].State != bpfleetv1.StateReady || a[0].ProgramID != 0 || a[0].Links != nil {
		t.Errorf("statuses after trimming: Ready nodes %+v, failed node %+v", a, c)
	}
}

// statusText says every field a trimmed per-program status holds, so
// that reports share only statuses equal in every field: a field added to
// ProgramAttachmentStatus must be said there (or dropped by trimReport).
func TestStatusTextSaysEveryField(t *testing.T) {
	said := []string{"Name", "State", "Message", "ProgramID", "Links", "RunStats"}
	typ := reflect.TypeFor[bpfleetv1.ProgramAttachmentStatus]()
	for i := range typ.NumField() {
		if f := typ.Field(i); !slices.Contains(said, f.Name) {
			t.Errorf("ProgramAttachmentStatus.%s: statusText does not say it, and trimReport does not drop it", f.Name)
		}
	}
	if _, ok := statusText([]bpfleetv1.ProgramAttachmentStatus{{Name: "p", ProgramID: 4}}); ok {
		t.Error("a status with its program ID has a text: two nodes' would share one ID")
	}
	a, _ := statusText([]bpfleetv1.ProgramAttachmentStatus{{Name: "p:1", State: "Ready"}})
	b, _ := statusText([]bpfleetv1.ProgramAttachmentStatus{{Name: "p", State: "1:Ready"}})
	if a == b {
		t.Errorf("two different statuses say the same text %q", a)
	}
}
