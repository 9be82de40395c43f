package nodesync

import (
	"slices"
	"testing"
	"time"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

func TestWaitBackoff(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name string
		keys []string
		want []time.Duration
	}{
		{"doubles up to resync", []string{"a", "a", "a", "a", "a", "a", "a"}, []time.Duration{2 * s, 4 * s, 8 * s, 16 * s, 32 * s, resync, resync}},
		{"a new key starts again", []string{"a", "a", "a", "b", "b"}, []time.Duration{2 * s, 4 * s, 8 * s, 2 * s, 4 * s}},
		{"back to a key starts again", []string{"a", "a", "b", "a"}, []time.Duration{2 * s, 4 * s, 2 * s, 2 * s}},
	} {
		var b waitBackoff
		var got []time.Duration
		for _, k := range tc.keys {
			got = append(got, b.next(k))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A program that waits (e.g. on the TCX link of a program it names in
// its order, which never comes) is retried after growing intervals, not
// every 2 s forever; a new spec or another set of waiting programs
// starts again at 2 s, and nothing waiting goes back to resync.
func TestPassesWhileWaitingBackOff(t *testing.T) {
	var r Reconciler
	set := &bpfleetv1.NodeProgramSet{}
	set.Generation = 3
	waiting := []bpfleetv1.NodeProgramStatus{
		{UID: "a", State: bpfleetv1.StatePending, Reason: bpfleetv1.ReasonWaiting},
		{UID: "b", State: bpfleetv1.StateReady},
	}
	var got []time.Duration
	for range 7 {
		got = append(got, r.nextPass(set, waiting, nil))
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] || got[i] > resync {
			t.Fatalf("requeue intervals %v: not growing up to %v", got, resync)
		}
	}
	if got[0] != waitRetry || got[len(got)-1] != resync {
		t.Fatalf("requeue intervals %v: want %v first, %v in the end", got, waitRetry, resync)
	}
	set.Generation = 4
	if d := r.nextPass(set, waiting, nil); d != waitRetry {
		t.Errorf("after a spec change: %v, want %v", d, waitRetry)
	}
	policies := []bpfleetv1.NodeMapPolicyStatus{{UID: "p", State: bpfleetv1.StatePending}}
	if d := r.nextPass(set, waiting, policies); d != waitRetry {
		t.Errorf("after a policy starts waiting: %v, want %v", d, waitRetry)
	}
	if d := r.nextPass(set, waiting[1:], nil); d != resync {
		t.Errorf("nothing waits: %v, want %v", d, resync)
	}
	if d := r.nextPass(set, waiting, nil); d != waitRetry {
		t.Errorf("waiting again: %v, want %v", d, waitRetry)
	}
}
