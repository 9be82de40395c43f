package nodesync

import (
	"testing"

	"k8s.io/client-go/features"
)

// The agent's informers list, then watch, unless
// KUBE_FEATURE_WatchListClient says otherwise; client-go's other gates
// keep their defaults.
func TestListThenWatch(t *testing.T) {
	prev := features.FeatureGates()
	t.Cleanup(func() { features.ReplaceFeatureGates(prev) })
	ListThenWatch()
	g := features.FeatureGates()
	if g.Enabled(features.WatchListClient) {
		t.Error("WatchListClient on after ListThenWatch")
	}
	if g.Enabled(features.InOrderInformers) != prev.Enabled(features.InOrderInformers) {
		t.Error("InOrderInformers changed by ListThenWatch")
	}
	features.ReplaceFeatureGates(prev)
	t.Setenv("KUBE_FEATURE_WatchListClient", "true")
	ListThenWatch()
	if features.FeatureGates() != prev {
		t.Error("ListThenWatch replaced the gates though KUBE_FEATURE_WatchListClient is set")
	}
}
