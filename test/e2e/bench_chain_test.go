package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// chainHops is how many writes a lone change makes in a row: the user's,
// the operator's set, the agent's report and the operator's status, each
// made on seeing the one before through a watch.
const chainHops = 4

// BenchmarkWriteChain measures the floor of a lone change's path through
// the API server: chainHops small ConfigMap writes in a row, each made by
// a relay on seeing the one before through its watch, until the user's
// watch sees the last (as a change's four writes are, with no work between
// them, and the cheapest object the API server stores). It reports the
// chain (chain-ms/op) beside one write's round trip (write-ms), measured
// in the same run: BenchmarkCreateToReady and BenchmarkUpdateToLive spend
// the rest of their time over raw in their objects' cost and the
// operator's and agent's work.
func BenchmarkWriteChain(b *testing.B) {
	s := startStack(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	names := make([]string, chainHops)
	for i := range names {
		names[i] = fmt.Sprintf("bench-chain-%d", i)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: names[i], Namespace: "default"}, Data: map[string]string{"n": "0"}}
		if err := s.Client.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	for i := range chainHops - 1 {
		w := watchConfigMap(b, s.Client, names[i])
		go relay(ctx, s.Client, w, names[i+1])
	}
	last := watchConfigMap(b, s.Client, names[chainHops-1])
	defer last.Stop()
	var chain, write []time.Duration
	b.ResetTimer()
	for i := range b.N {
		n := fmt.Sprint(i + 1)
		start := time.Now()
		setN(b, s.Client, names[0], n)
		write = append(write, time.Since(start))
		for ev := range last.ResultChan() {
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && cm.Data["n"] == n {
				break
			}
		}
		chain = append(chain, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(median(chain), "chain-ms/op")
	b.ReportMetric(median(write), "write-ms")
}

// watchConfigMap watches ConfigMap name in default from now on.
func watchConfigMap(b *testing.B, c client.WithWatch, name string) watch.Interface {
	w, err := c.Watch(context.Background(), &corev1.ConfigMapList{}, client.InNamespace("default"),
		client.MatchingFields{"metadata.name": name})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)
	return w
}

// relay writes each n that w shows into ConfigMap next.
func relay(ctx context.Context, c client.Client, w watch.Interface, next string) {
	for ev := range w.ResultChan() {
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if !ok || ev.Type != watch.Modified || ctx.Err() != nil {
			continue
		}
		patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"data":{"n":%q}}`, cm.Data["n"]))
		_ = c.Patch(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: next, Namespace: "default"}}, patch)
	}
}

// setN writes n into ConfigMap name.
func setN(b *testing.B, c client.Client, name, n string) {
	patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"data":{"n":%q}}`, n))
	if err := c.Patch(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}, patch); err != nil {
		b.Fatal(err)
	}
}

// median is the median of ds, in milliseconds.
func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}
