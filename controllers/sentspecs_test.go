package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A node pass does not write again the spec the last pass wrote while
// the cache still holds the set that write went over; a different spec,
// or a set the cache holds at a later version, is written.
func TestSentSpecNotWrittenTwice(t *testing.T) {
	var s sentSpecs
	set := func(rv string) *bpfleetv1.NodeProgramSet {
		return &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "n", ResourceVersion: rv}}
	}
	spec := bpfleetv1.NodeProgramSetSpec{Scheduled: true, Programs: []bpfleetv1.NodeProgram{{UID: "a", Name: "a", Generation: 2}}}
	other := bpfleetv1.NodeProgramSetSpec{Scheduled: true, Programs: []bpfleetv1.NodeProgram{{UID: "a", Name: "a", Generation: 3}}}
	text, err := encodeSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	otherText, err := encodeSpec(other)
	if err != nil {
		t.Fatal(err)
	}
	if s.already(set("1"), text) {
		t.Fatal("a spec never written counts as written")
	}
	s.remember("n", "1", text)
	if !s.already(set("1"), text) {
		t.Error("the spec written over version 1, with the cache still at 1: written again")
	}
	if s.already(set("1"), otherText) {
		t.Error("another spec counts as written")
	}
	if s.already(&bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "m", ResourceVersion: "1"}}, text) {
		t.Error("a write to node n counts for node m")
	}
	if s.already(set("2"), text) {
		t.Error("the cache holds a later version of the set: it is what the pass compares with")
	}
	if s.already(set("1"), text) {
		t.Error("what was remembered outlived a later version of the set")
	}
}
