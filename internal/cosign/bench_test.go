package cosign_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/bpfleet/bpfleet/internal/cosign"
)

// BenchmarkVerify measures Verify of one signature held in memory (resolve
// the signature tag, read manifest and payload, check digests, verify,
// check the payload) against the ECDSA P-256 verification alone, in the
// same iterations.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	store, dgst := image(b)
	key, pub := keyPair(b)
	if _, err := cosign.Sign(ctx, store, "r/p", dgst, key); err != nil {
		b.Fatal(err)
	}
	msg := sha256.Sum256([]byte(dgst))
	sig, err := ecdsa.SignASN1(rand.Reader, key, msg[:])
	if err != nil {
		b.Fatal(err)
	}
	var full, raw time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := cosign.Verify(ctx, store, dgst, []cosign.Key{pub}); err != nil {
			b.Fatal(err)
		}
		full += time.Since(start)
		start = time.Now()
		if !ecdsa.VerifyASN1(&key.PublicKey, msg[:], sig) {
			b.Fatal("raw verify failed")
		}
		raw += time.Since(start)
	}
	b.ReportMetric(float64(full.Microseconds())/float64(b.N), "verify-µs/op")
	b.ReportMetric(float64(raw.Microseconds())/float64(b.N), "ecdsa-µs/op")
	b.ReportMetric(float64(full)/float64(raw), "verify/ecdsa")
}
