package v1alpha1_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Each entry of a set's spec and of a report's status is stored as one
// JSON string holding the entry's object (one value for the API server to
// decode on each write), and reads back as the same Go value.
func TestNodeEntriesAreOneStringEach(t *testing.T) {
	ctx := context.Background()
	set := &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "entries-string"}}
	set.Spec.Programs = []bpfleetv1.NodeProgram{{
		UID: "u-1", Kind: "TracepointProgram", Name: "opens", Generation: 3, Path: "/opt/bpf/counter.o",
		ProgramName: "count_openat", GlobalData: map[string]bpfleetv1.GlobalValue{"filter_pid": "42"},
		Attach: bpfleetv1.NewAttachPoint(bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}),
	}}
	if err := k8s.Create(ctx, set); err != nil {
		t.Fatal(err)
	}
	raw := getRaw(t, "NodeProgramSet", set.Name)
	entries, _, _ := unstructured.NestedSlice(raw.Object, "spec", "programs")
	if len(entries) != 1 {
		t.Fatalf("stored entries = %v, want 1", entries)
	}
	line, ok := entries[0].(string)
	if !ok {
		t.Fatalf("stored entry is %T, want one JSON string: %v", entries[0], entries[0])
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(line), &fields); err != nil || fields["name"] != "opens" || fields["uid"] != "u-1" {
		t.Fatalf("stored entry %q: not the entry's JSON object (%v)", line, err)
	}
	var got bpfleetv1.NodeProgramSet
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(set), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Spec.Programs, set.Spec.Programs) {
		t.Errorf("read back %+v, want %+v", got.Spec.Programs, set.Spec.Programs)
	}

	report := &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: "entries-string"}}
	report.Status.Programs = []bpfleetv1.NodeProgramStatus{{UID: "u-1", Generation: 3, State: bpfleetv1.StateReady, ProgramID: 7,
		Objects: bpfleetv1.KernelObjects{Links: []bpfleetv1.LinkStatus{{Target: "main", LinkID: 8}}}}}
	if err := k8s.Create(ctx, report); err != nil {
		t.Fatal(err)
	}
	stored, _, _ := unstructured.NestedSlice(getRaw(t, "NodeProgramReport", report.Name).Object, "status", "programs")
	if len(stored) != 1 {
		t.Fatalf("stored report entries = %v, want 1", stored)
	}
	if _, ok := stored[0].(string); !ok {
		t.Fatalf("stored report entry is %T, want one JSON string", stored[0])
	}
	var gotReport bpfleetv1.NodeProgramReport
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(report), &gotReport); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotReport.Status.Programs, report.Status.Programs) {
		t.Errorf("report read back %+v, want %+v", gotReport.Status.Programs, report.Status.Programs)
	}
}

// Entries stored as objects (as they were before each became a string)
// still read; entries that do not decode never fail the object's
// decoding: a set's says why in Invalid, a report's reads as Failed.
func TestNodeEntriesDecodeLeniently(t *testing.T) {
	ctx := context.Background()
	set := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": bpfleetv1.GroupVersion.String(), "kind": "NodeProgramSet",
		"metadata": map[string]any{"name": "entries-lenient"},
		"spec": map[string]any{"programs": []any{
			map[string]any{"uid": "u-old", "kind": "TracepointProgram", "name": "old", "generation": int64(2), "programName": "count_openat"},
			`{"uid":"u-bad","name":"bad","generation":"one"}`,
			"not json",
		}},
	}}
	if err := k8s.Create(ctx, set); err != nil {
		t.Fatal(err)
	}
	var sets bpfleetv1.NodeProgramSetList
	if err := k8s.List(ctx, &sets); err != nil {
		t.Fatalf("a set with broken entries fails the list: %v", err)
	}
	var got bpfleetv1.NodeProgramSet
	if err := k8s.Get(ctx, types.NamespacedName{Name: "entries-lenient"}, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.Programs) != 3 {
		t.Fatalf("entries = %+v, want 3", got.Spec.Programs)
	}
	if old := got.Spec.Programs[0]; old.Invalid != "" || old.UID != "u-old" || old.Generation != 2 || old.ProgramName != "count_openat" {
		t.Errorf("entry stored as an object reads %+v", old)
	}
	if bad := got.Spec.Programs[1]; bad.Invalid == "" || bad.UID != "u-bad" {
		t.Errorf("entry with a field of the wrong type reads %+v, want its UID and Invalid set", bad)
	}
	if bad := got.Spec.Programs[2]; bad.Invalid == "" {
		t.Errorf("entry that is not JSON reads %+v, want Invalid set", bad)
	}

	report := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": bpfleetv1.GroupVersion.String(), "kind": "NodeProgramReport",
		"metadata": map[string]any{"name": "entries-lenient"},
		"status":   map[string]any{"programs": []any{`{"uid":"u-bad","generation":2,"state":7}`}},
	}}
	if err := k8s.Create(ctx, report); err != nil {
		t.Fatal(err)
	}
	var reports bpfleetv1.NodeProgramReportList
	if err := k8s.List(ctx, &reports); err != nil {
		t.Fatalf("a report with a broken entry fails the list: %v", err)
	}
	var gotReport bpfleetv1.NodeProgramReport
	if err := k8s.Get(ctx, types.NamespacedName{Name: "entries-lenient"}, &gotReport); err != nil {
		t.Fatal(err)
	}
	e := gotReport.Status.Programs
	if len(e) != 1 || e[0].UID != "u-bad" || e[0].Generation != 2 || e[0].State != bpfleetv1.StateFailed ||
		e[0].Reason != bpfleetv1.ReasonInvalidReport || e[0].Message == "" {
		t.Errorf("broken report entry reads %+v, want u-bad generation 2 Failed/InvalidReport with a message", e)
	}
}

func getRaw(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(bpfleetv1.GroupVersion.String())
	u.SetKind(kind)
	if err := k8s.Get(context.Background(), types.NamespacedName{Name: name}, u); err != nil {
		t.Fatalf("get %s %s: %v", kind, name, err)
	}
	return u
}

// Entries round-trip whatever their strings hold: a verifier log's lines,
// quotes, backslashes, non-ASCII and control characters.
func TestNodeEntriesRoundTripAnyText(t *testing.T) {
	want := bpfleetv1.NodeProgramStatusEntries{
		{UID: "u-1", Generation: 1, State: bpfleetv1.StateFailed, Reason: bpfleetv1.ReasonVerifierRejected,
			Message:     `load "count": invalid argument \ <&> é ✓ ` + "\u2028\x01",
			VerifierLog: "0: (b7) r0 = 0\n1: (95) exit\tR0=0\r\n\"quoted\" \\path\\ \b\f /slash/"},
		{UID: "u-2", Generation: 2, State: bpfleetv1.StateReady},
	}
	raw, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var got bpfleetv1.NodeProgramStatusEntries
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip of %s:\n got %+v\nwant %+v", raw, got, want)
	}
}

// Decoded entries share what is the same in each node's copy (an
// informer holds one per program per node): their attach settings and
// their programs' names share memory.
func TestDecodedEntriesShareTheirSettings(t *testing.T) {
	entry := bpfleetv1.NodeProgram{UID: "u", Kind: "ClusterBpfApplication", Name: "app", Generation: 1,
		Programs: []bpfleetv1.ProgramAttachment{{Name: "count_openat",
			Attach: bpfleetv1.NewAttachPoint(bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"})}}}
	raw, err := json.Marshal(bpfleetv1.NodeProgramEntries{entry, entry})
	if err != nil {
		t.Fatal(err)
	}
	var got bpfleetv1.NodeProgramEntries
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	a, b := got[0].Programs[0].Attach.Settings.Raw, got[1].Programs[0].Attach.Settings.Raw
	if string(a) != string(entry.Programs[0].Attach.Settings.Raw) || &a[0] != &b[0] {
		t.Errorf("two decoded entries hold their settings %q and %q apart", a, b)
	}
}

// Every node that runs a program at a generation gets the same entry: two
// nodes' sets decode it once, and their entries share its lists and maps
// (an application's programs, its globals) instead of holding a copy
// each; an entry that differs is its own.
func TestSetsShareTheirDecodedEntries(t *testing.T) {
	bpfleetv1.ShareDecodedEntries()
	entry := bpfleetv1.NodeProgram{UID: "u-shared", Kind: "ClusterBpfApplication", Name: "app", Generation: 2,
		GlobalData: map[string]bpfleetv1.GlobalValue{"sampling": "1"},
		Programs: []bpfleetv1.ProgramAttachment{
			{Name: "count_0", Attach: bpfleetv1.NewAttachPoint(bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"})},
			{Name: "count_1", Attach: bpfleetv1.NewAttachPoint(bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_close"})},
		}}
	next := entry
	next.Generation = 3
	decode := func(entries ...bpfleetv1.NodeProgram) bpfleetv1.NodeProgramSet {
		set := bpfleetv1.NodeProgramSet{Spec: bpfleetv1.NodeProgramSetSpec{Programs: entries}}
		raw, err := json.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		var got bpfleetv1.NodeProgramSet
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(got.Spec.Programs, bpfleetv1.NodeProgramEntries(entries)) {
			t.Fatalf("read back %+v, want %+v", got.Spec.Programs, entries)
		}
		return got
	}
	a, b := decode(entry).Spec.Programs[0], decode(entry).Spec.Programs[0]
	if &a.Programs[0] != &b.Programs[0] || reflect.ValueOf(a.GlobalData).UnsafePointer() != reflect.ValueOf(b.GlobalData).UnsafePointer() {
		t.Errorf("two sets decoded the same entry into programs at %p and %p, globals at %p and %p: want them shared",
			&a.Programs[0], &b.Programs[0], a.GlobalData, b.GlobalData)
	}
	if c := decode(next).Spec.Programs[0]; &c.Programs[0] == &a.Programs[0] {
		t.Errorf("the entry at generation 3 shares its programs with the one at generation 2")
	}
}
