package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// emitTransitions records an Event for each condition of types whose
// status or reason changed between before and after. Ready is reported
// both ways; the others (Stalled, MapFull) only when they become True.
func emitTransitions(rec recorder.EventRecorder, obj runtime.Object, before, after []metav1.Condition, types ...string) {
	for _, typ := range types {
		was, now := meta.FindStatusCondition(before, typ), meta.FindStatusCondition(after, typ)
		if now == nil || was != nil && was.Status == now.Status && was.Reason == now.Reason {
			continue
		}
		if typ != bpfleetv1.ConditionReady && now.Status != metav1.ConditionTrue {
			continue
		}
		rec.Eventf(obj, nil, eventType(now), now.Reason, typ, "%s", now.Message)
	}
}

// eventType is Normal for progress and success, Warning for trouble.
func eventType(c *metav1.Condition) string {
	if c.Type == bpfleetv1.ConditionReady &&
		(c.Status == metav1.ConditionTrue || c.Reason == bpfleetv1.ReasonProgressing || c.Reason == bpfleetv1.ReasonDeleting) {
		return corev1.EventTypeNormal
	}
	return corev1.EventTypeWarning
}
