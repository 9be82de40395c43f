package controllers

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// A report's update touches only the programs whose entries changed,
// unless what counts for every entry changed.
func TestReportChangeTouchesChangedEntries(t *testing.T) {
	now := time.Now()
	report := func(gen int64, sync time.Time, entries ...bpfleetv1.NodeProgramStatus) *bpfleetv1.NodeProgramReport {
		return &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: "n"},
			Status: bpfleetv1.NodeProgramReportStatus{SetGeneration: gen, LastSync: &metav1.Time{Time: sync}, Programs: entries}}
	}
	entry := func(uid string, state bpfleetv1.ProgramState) bpfleetv1.NodeProgramStatus {
		return bpfleetv1.NodeProgramStatus{UID: types.UID(uid), Generation: 1, State: state}
	}
	ready, pending := bpfleetv1.StateReady, bpfleetv1.StatePending
	old := report(1, now.Add(-time.Second), entry("same", ready), entry("loads", pending), entry("gone", ready))
	for _, tc := range []struct {
		name string
		cur  *bpfleetv1.NodeProgramReport
		want []string
	}{
		{"one entry changed, one added, one removed", report(1, now, entry("same", ready), entry("loads", ready), entry("new", pending)), []string{"gone", "loads", "new"}},
		{"nothing changed but the sync time", report(1, now, entry("same", ready), entry("loads", pending), entry("gone", ready)), nil},
		{"a report about a new set generation", report(2, now, entry("same", ready), entry("loads", pending), entry("gone", ready)), []string{"gone", "loads", "same"}},
	} {
		got := changedEntries(old, tc.cur, now)
		var names []string
		for _, uid := range got {
			names = append(names, string(uid))
		}
		slices.Sort(names)
		if !slices.Equal(names, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, names, tc.want)
		}
	}
	silent := report(1, now.Add(-agentSilentAfter), entry("same", ready))
	if got := changedEntries(silent, report(1, now, entry("same", ready)), now); len(got) != 1 {
		t.Errorf("a sync after a silence: %v, want every entry", got)
	}
}
