package nodesync

import (
	"fmt"
	"maps"
	"slices"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
)

// podTargets counts, for an entry whose programs pick their targets among
// pods, the pods pl's selectors match, those where every program of ld
// that targets them attached, and those where one failed (with why, for
// the first MaxPodFailuresReported by name); nil for any other entry.
func podTargets(pl plan, ld programs.Loaded) *bpfleetv1.PodTargetsStatus {
	if !pl.podScoped {
		return nil
	}
	failed := maps.Clone(pl.podFailures)
	linked := map[string]bool{}
	for name, targets := range pl.pods {
		lp := ld.Programs[name]
		for key, pt := range targets {
			if _, ok := lp.Links[key]; ok {
				linked[pt.Pod] = true
			} else if why, ok := lp.Failed[key]; ok {
				failed[pt.Pod] = pt.Target + ": " + why
			}
		}
	}
	st := &bpfleetv1.PodTargetsStatus{Matched: int32(len(pl.matched))}
	for _, pod := range slices.Sorted(slices.Values(pl.matched)) {
		why, bad := failed[pod]
		switch {
		case bad:
			st.Failed++
			if len(st.Failures) < bpfleetv1.MaxPodFailuresReported {
				st.Failures = append(st.Failures, bpfleetv1.PodFailure{Pod: pod, Message: why})
			}
		case linked[pod]:
			st.Attached++
		}
	}
	return st
}

// podMessage says how the entry's pod targets stand, for status: "" when
// it attached in every pod it matched.
func podMessage(st *bpfleetv1.PodTargetsStatus) string {
	switch {
	case st == nil || st.Matched > 0 && st.Attached == st.Matched:
		return ""
	case st.Matched == 0:
		return "no running pod on this node matches its selectors"
	case st.Failed == 0:
		return fmt.Sprintf("attached in %d of the %d pods its selectors match", st.Attached, st.Matched)
	}
	return fmt.Sprintf("attached in %d of the %d pods its selectors match; failed in %d (see pods.failures)", st.Attached, st.Matched, st.Failed)
}

// podLinkTarget is how status names the link on target key: in a pod,
// "namespace/name:what"; else the key.
func podLinkTarget(pods map[string]attach.PodTarget, key string) string {
	if pt, ok := pods[key]; ok {
		return pt.Pod + ":" + pt.Target
	}
	return key
}
