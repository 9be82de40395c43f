package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/cosign"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// BenchmarkSignedCreateToReady measures what a signature policy costs on
// the way from create to Ready: each iteration pushes two new images (new
// digests, so neither the image cache nor the agent's memory of verified
// digests helps) and creates a program for each, one without a policy (the
// baseline) and one that requires a signature, which the image carries.
func BenchmarkSignedCreateToReady(b *testing.B) {
	s := startStack(b)
	ctx := context.Background()
	host, stop, err := ocitest.Start("127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	key := keySecret(b, s.Client, fmt.Sprintf("bench-key-%d", b.N))
	var plain, signed time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		plainRef := pushVariant(b, host+"/bench/plain:v1", fmt.Sprintf("%d-%d", b.N, i))
		signedRef := pushVariant(b, host+"/bench/signed:v1", fmt.Sprintf("%d-%d", b.N, i))
		repo, err := oci.NewRepository(signedRef, nil)
		if err != nil {
			b.Fatal(err)
		}
		dgst, err := oci.Resolve(ctx, signedRef, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cosign.Sign(ctx, repo, host+"/bench/signed", digest.Digest(dgst), key.key); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		plain += createReadyDelete(b, s.Client, counter(fmt.Sprintf("plain-%d-%d", b.N, i), plainRef, nil))
		p := counter(fmt.Sprintf("signed-%d-%d", b.N, i), signedRef, nil)
		p.Spec.ByteCode.Image.Verify = &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{key.ref}}
		signed += createReadyDelete(b, s.Client, p)
	}
	n := float64(b.N)
	b.ReportMetric(float64(signed.Microseconds())/1000/n, "signed-ms/op")
	b.ReportMetric(float64(plain.Microseconds())/1000/n, "plain-ms/op")
	b.ReportMetric(float64(signed)/float64(plain), "signed/plain")
}

// pushVariant pushes the counter under a file name of its own, so the
// image has a digest no earlier iteration pulled, and returns ref.
func pushVariant(b *testing.B, ref, variant string) string {
	b.Helper()
	if _, err := oci.Push(context.Background(), ref, oci.Bytecode{
		FileName: "counter-" + variant + ".o", Object: bpf.TracepointCounter,
		Programs: map[string]string{"count_openat": "tracepoint"},
	}, nil); err != nil {
		b.Fatal(err)
	}
	return ref
}

// createReadyDelete creates p, waits until it is Ready, deletes it and
// waits until it is gone; it returns the time from create to Ready.
func createReadyDelete(b *testing.B, c client.Client, p *bpfleetv1.TracepointProgram) time.Duration {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	if err := c.Create(ctx, p); err != nil {
		b.Fatal(err)
	}
	waitReady(b, c, p.Name)
	elapsed := time.Since(start)
	if err := c.Delete(ctx, p); err != nil {
		b.Fatal(err)
	}
	waitGone(b, c, p.Name)
	return elapsed
}
