package cosign_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/bpfleet/bpfleet/internal/cosign"
)

// image pushes a stand-in manifest to a fresh in-memory store.
func image(t testing.TB) (*memory.Store, digest.Digest) {
	t.Helper()
	store := memory.New()
	desc, err := oras.TagBytes(context.Background(), store, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2}`), "v1")
	if err != nil {
		t.Fatal(err)
	}
	return store, desc.Digest
}

func keyPair(t testing.TB) (*ecdsa.PrivateKey, cosign.Key) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, cosign.Key{Name: "test.pub", Public: k.Public()}
}

func TestSignThenVerify(t *testing.T) {
	ctx := context.Background()
	store, dgst := image(t)
	_, other := keyPair(t)
	if _, err := cosign.Verify(ctx, store, dgst, []cosign.Key{other}); !errors.Is(err, cosign.ErrUnsigned) {
		t.Fatalf("unsigned image: got %v, want ErrUnsigned", err)
	}

	key, pub := keyPair(t)
	if _, err := cosign.Sign(ctx, store, "127.0.0.1:5000/team/prog", dgst, key); err != nil {
		t.Fatal(err)
	}
	sigs, err := cosign.Verify(ctx, store, dgst, []cosign.Key{other, pub})
	if err != nil || len(sigs) != 1 || sigs[0].Key != "test.pub" {
		t.Fatalf("Verify = %v, %v; want one signature by test.pub", sigs, err)
	}
	_, err = cosign.Verify(ctx, store, dgst, []cosign.Key{other})
	if !errors.Is(err, cosign.ErrNoValidSignature) {
		t.Fatalf("wrong key: got %v, want ErrNoValidSignature", err)
	}

	// A second signature is added next to the first, as cosign does.
	key2, pub2 := keyPair(t)
	if _, err := cosign.Sign(ctx, store, "127.0.0.1:5000/team/prog", dgst, key2); err != nil {
		t.Fatal(err)
	}
	sigs, err = cosign.Verify(ctx, store, dgst, []cosign.Key{pub, pub2})
	if err != nil || len(sigs) != 2 {
		t.Fatalf("Verify after a second signature = %v, %v; want two", sigs, err)
	}
}

func TestEveryKeyTypeSigns(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, k := range []interface {
		Public() crypto.PublicKey
		Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error)
	}{ec, rk, ed} {
		store, dgst := image(t)
		if _, err := cosign.Sign(context.Background(), store, "r/p", dgst, k); err != nil {
			t.Fatalf("%T: %v", k, err)
		}
		if _, err := cosign.Verify(context.Background(), store, dgst, []cosign.Key{{Name: "k", Public: k.Public()}}); err != nil {
			t.Fatalf("%T: %v", k, err)
		}
	}
}

// A signature is bound to its digest: moved to another image's tag, it
// does not verify that image.
func TestSignatureOfAnotherDigestIsRefused(t *testing.T) {
	ctx := context.Background()
	store, dgst := image(t)
	key, pub := keyPair(t)
	if _, err := cosign.Sign(ctx, store, "r/p", dgst, key); err != nil {
		t.Fatal(err)
	}
	sigDesc, err := store.Resolve(ctx, cosign.SignatureTag(dgst))
	if err != nil {
		t.Fatal(err)
	}
	other, err := oras.TagBytes(ctx, store, ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"x":1}`), "v2")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Tag(ctx, sigDesc, cosign.SignatureTag(other.Digest)); err != nil {
		t.Fatal(err)
	}
	_, err = cosign.Verify(ctx, store, other.Digest, []cosign.Key{pub})
	if !errors.Is(err, cosign.ErrNoValidSignature) || !strings.Contains(err.Error(), "payload signs "+dgst.String()) {
		t.Fatalf("got %v, want a refusal naming the signed digest", err)
	}
}

// A payload changed after signing does not verify.
func TestTamperedPayloadIsRefused(t *testing.T) {
	ctx := context.Background()
	store, dgst := image(t)
	key, pub := keyPair(t)
	if _, err := cosign.Sign(ctx, store, "r/p", dgst, key); err != nil {
		t.Fatal(err)
	}
	desc, _ := store.Resolve(ctx, cosign.SignatureTag(dgst))
	raw, _ := content.FetchAll(ctx, store, desc)
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	payload, _ := content.FetchAll(ctx, store, m.Layers[0])
	tampered := bytes.Replace(payload, []byte(`"optional":null`), []byte(`"optional":{"x":"y"}`), 1)
	sig := m.Layers[0].Annotations
	m.Layers[0] = content.NewDescriptorFromBytes(cosign.MediaTypeSimpleSigning, tampered)
	m.Layers[0].Annotations = sig
	if err := store.Push(ctx, m.Layers[0], bytes.NewReader(tampered)); err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(m)
	if _, err := oras.TagBytes(ctx, store, ocispec.MediaTypeImageManifest, raw, cosign.SignatureTag(dgst)); err != nil {
		t.Fatal(err)
	}
	if _, err := cosign.Verify(ctx, store, dgst, []cosign.Key{pub}); !errors.Is(err, cosign.ErrNoValidSignature) {
		t.Fatalf("got %v, want ErrNoValidSignature", err)
	}
}

func TestKeyFiles(t *testing.T) {
	priv, pub, err := cosign.GenerateKeyPair([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cosign.ParsePrivateKey(priv, []byte("wrong")); !errors.Is(err, cosign.ErrWrongPassword) {
		t.Fatalf("wrong password: got %v", err)
	}
	signer, err := cosign.ParsePrivateKey(priv, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := cosign.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !signer.Public().(*ecdsa.PublicKey).Equal(key) {
		t.Fatal("public key file does not match the private key")
	}
	for _, bad := range [][]byte{nil, []byte("not pem"), priv} {
		if _, err := cosign.ParsePublicKey(bad); err == nil {
			t.Fatalf("ParsePublicKey(%.20q) succeeded", bad)
		}
	}
	if _, err := cosign.ParsePrivateKey(pub, nil); err == nil {
		t.Fatal("ParsePrivateKey of a public key succeeded")
	}
}

// Signing again with the same key adds nothing: a job that re-signs on
// every run never fills the signature tag.
func TestSigningTwiceKeepsOneSignature(t *testing.T) {
	ctx := context.Background()
	store, dgst := image(t)
	key, pub := keyPair(t)
	for range 70 {
		if _, err := cosign.Sign(ctx, store, "r/p", dgst, key); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := cosign.Count(ctx, store, dgst); err != nil || n != 1 {
		t.Fatalf("%d signatures after signing 70 times with one key (%v), want 1", n, err)
	}
	if _, err := cosign.Verify(ctx, store, dgst, []cosign.Key{pub}); err != nil {
		t.Fatal(err)
	}
}
