package controllers

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A node's entry for a program is found whether its set lists the entries
// sorted by UID (as the operator writes them) or not (a hand edit).
func TestEntryOfFindsInAnyOrder(t *testing.T) {
	entries := func(uids ...types.UID) []bpfleetv1.NodeProgram {
		out := make([]bpfleetv1.NodeProgram, len(uids))
		for i, uid := range uids {
			out[i] = bpfleetv1.NodeProgram{UID: uid, Generation: int64(i + 1)}
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		entries []bpfleetv1.NodeProgram
		uid     types.UID
		want    int64 // generation of the entry found, 0: none
	}{
		{"sorted, first", entries("a", "b", "c", "d"), "a", 1},
		{"sorted, last", entries("a", "b", "c", "d"), "d", 4},
		{"sorted, absent", entries("a", "b", "d"), "c", 0},
		{"unsorted", entries("d", "a", "c", "b"), "c", 3},
		{"unsorted, first", entries("d", "a", "c", "b"), "d", 1},
		{"unsorted, absent", entries("d", "a", "b"), "c", 0},
		{"none", nil, "a", 0},
	} {
		var got int64
		if e := entryOf(tc.entries, tc.uid, specUID); e != nil {
			got = e.Generation
		}
		if got != tc.want {
			t.Errorf("%s: entry of %s has generation %d, want %d", tc.name, tc.uid, got, tc.want)
		}
	}
}
