package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// BenchmarkMapPolicyToLive measures a MapPolicy change (a new set of N
// entries, mode exact) until every node reports it written, i.e. the
// entries are live in the kernel map. Inline entries for N = 1, 1,000 and
// 10,000 (the most spec.entries holds: the object must fit etcd's request
// limit); entriesFrom, an OCI artifact pushed beforehand, for 10,000 and
// 100,000.
func BenchmarkMapPolicyToLive(b *testing.B) {
	s := startStack(b)
	host, _, _, _ := testkernel.VethPair(b)
	x := xdpFilter(s, "bench-filter", host)
	if err := s.Client.Create(context.Background(), x); err != nil {
		b.Fatal(err)
	}
	defer deleteAndWait(b, s.Client, x)
	for _, n := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) { benchPolicy(b, s, x.Name, n, inline) })
	}
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("entriesFrom=%d", n), func(b *testing.B) { benchPolicy(b, s, x.Name, n, fromArtifact) })
	}
}

// A source sets a policy's entries to n addresses of a parity: inline, or
// from an artifact it pushes first (outside the timer).
type source func(b *testing.B, s *localstack.Stack, mp *bpfleetv1.MapPolicy, n, parity int)

func inline(_ *testing.B, _ *localstack.Stack, mp *bpfleetv1.MapPolicy, n, parity int) {
	mp.Spec.Entries = addresses(n, parity)
}

func fromArtifact(b *testing.B, s *localstack.Stack, mp *bpfleetv1.MapPolicy, n, parity int) {
	b.StopTimer()
	defer b.StartTimer()
	ref := pushAddresses(b, s, fmt.Sprintf("n%d-p%d", n, parity), addresses(n, parity))
	mp.Spec.EntriesFrom = &bpfleetv1.EntriesSource{Image: bpfleetv1.ImageSource{Ref: ref}}
}

func benchPolicy(b *testing.B, s *localstack.Stack, program string, n int, set source) {
	ctx := context.Background()
	c := s.Client
	size := int32(max(16384, 2*n))
	mp := blocklist(fmt.Sprintf("bench-%d", n), program)
	mp.Spec.MaxEntries = &size
	if err := c.Create(ctx, mp); err != nil {
		b.Fatal(err)
	}
	defer deletePolicy(b, c, mp)
	waitPolicy(b, c, mp, "Ready", policyReady)
	var live time.Duration
	b.ResetTimer()
	for i := range b.N {
		base := mp.DeepCopy()
		set(b, s, mp, n, i%2)
		start := time.Now()
		if err := c.Patch(ctx, mp, client.MergeFrom(base)); err != nil {
			b.Fatal(err)
		}
		watchPolicy(b, s, mp, func(got *bpfleetv1.MapPolicy) bool {
			return got.Status.ObservedGeneration == mp.Generation && policyReady(got) &&
				len(got.Status.Usage) == 1 && got.Status.Usage[0].Entries == int32(n)
		})
		live += time.Since(start)
	}
	b.ReportMetric(float64(live.Microseconds())/1000/float64(b.N), "live-ms/op")
	b.ReportMetric(float64(n)*float64(b.N)/live.Seconds(), "entries/s")
}

// watchPolicy watches mp from its resourceVersion until ok holds, as
// kubectl wait does: polling a large object would load the API server
// that the benchmark measures.
func watchPolicy(b *testing.B, s *localstack.Stack, mp *bpfleetv1.MapPolicy, ok func(*bpfleetv1.MapPolicy) bool) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wc, err := client.NewWithWatch(s.Plane.Config, client.Options{Scheme: s.Client.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	w, err := wc.Watch(ctx, &bpfleetv1.MapPolicyList{}, client.MatchingFields{"metadata.name": mp.Name},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: mp.ResourceVersion}})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if got, isPolicy := ev.Object.(*bpfleetv1.MapPolicy); isPolicy && ok(got) {
			return
		}
	}
	b.Fatalf("watch of %s ended before the entries were live", mp.Name)
}

// addresses are n (at most 2^23) distinct IPv4 source addresses, a
// different set per parity, as blocklist entries.
func addresses(n, parity int) []bpfleetv1.MapEntry {
	out := make([]bpfleetv1.MapEntry, n)
	for i := range n {
		a := parity<<23 | i
		out[i] = entry(fmt.Sprintf(`{"addr": "10.%d.%d.%d"}`, a>>16, a>>8&255, a&255), `{}`)
	}
	return out
}

// deletePolicy deletes mp and waits until its finalizer let it go.
func deletePolicy(t testing.TB, c client.Client, mp *bpfleetv1.MapPolicy) {
	if err := c.Delete(context.Background(), mp); client.IgnoreNotFound(err) != nil {
		t.Error(err)
	}
	poll(t, mp.Name+" deleted", func(ctx context.Context) bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(mp), &bpfleetv1.MapPolicy{}))
	}, func() string { return fmt.Sprintf("%+v", mp.Status) })
}
