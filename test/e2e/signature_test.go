package e2e

import (
	"context"
	"crypto"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
	"github.com/bpfleet/bpfleet/internal/cosign"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A program that requires a signature loads only an image signed by one of
// its keys: unsigned and wrongly signed images stall with SignatureInvalid
// (and an Event), and nothing reaches the kernel; signed by the right key,
// the same digest loads.
func TestSignaturePolicyOnTheNode(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host, stop, err := ocitest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ref := host + "/signed/counter:v1"
	if _, err := oci.Push(ctx, ref, oci.Bytecode{
		FileName: "tracepoint_counter.o", Object: bpf.TracepointCounter,
		Programs: map[string]string{"count_openat": "tracepoint"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	trusted, other := keySecret(t, s.Client, "trusted"), keySecret(t, s.Client, "other")

	unsigned := counter("unsigned", ref, nil)
	unsigned.Spec.ByteCode.Image.Verify = &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{trusted.ref}}
	if err := s.Client.Create(ctx, unsigned); err != nil {
		t.Fatal(err)
	}
	assertSignatureInvalid(t, s.Client, unsigned, "image is not signed")
	if n := metricValue(t, "bpfleet_agent_image_signature_checks_total", map[string]string{"result": "unsigned"}); n < 1 {
		t.Errorf("bpfleet_agent_image_signature_checks_total{result=unsigned} = %v, want at least 1", n)
	}

	// Signed, but by a key the program does not trust.
	signedRef := host + "/signed/by-other:v1"
	signed, err := oci.Push(ctx, signedRef, oci.Bytecode{
		FileName: "counter.o", Object: bpf.TracepointCounter, Programs: map[string]string{"count_openat": "tracepoint"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := oci.NewRepository(signedRef, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cosign.Sign(ctx, repo, host+"/signed/by-other", digest.Digest(signed), other.key); err != nil {
		t.Fatal(err)
	}
	wrongKey := counter("wrong-key", signedRef, nil)
	wrongKey.Spec.ByteCode.Image.Verify = &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{trusted.ref}}
	if err := s.Client.Create(ctx, wrongKey); err != nil {
		t.Fatal(err)
	}
	assertSignatureInvalid(t, s.Client, wrongKey, "no signature verifies")

	// Trusting the key that signed it, the program loads.
	patchVerify(t, s.Client, wrongKey.Name, trusted.ref, other.ref)
	got := waitReady(t, s.Client, wrongKey.Name)
	if st := nodeEntry(t, s.Client, got.UID); st.ProgramID == 0 || !bpftoolShows(t, st.ProgramID) {
		t.Fatalf("program not in the kernel: %+v", st)
	}

	// Not required: an unsigned image loads — here a two-platform index,
	// of which the node takes its own entry.
	optional := counter("optional", pushIndex(t, host+"/signed/multi:v1"), nil)
	no := false
	optional.Spec.ByteCode.Image.Verify = &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{trusted.ref}, Required: &no}
	if err := s.Client.Create(ctx, optional); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Client, optional.Name)
}

// pushIndex pushes the counter for this node and for s390x (big-endian) as
// one image index, as `bpfleet image build` makes it, and returns ref.
func pushIndex(t *testing.T, ref string) string {
	t.Helper()
	progs := map[string]string{"count_openat": "tracepoint"}
	a, err := oci.Build(context.Background(),
		oci.Bytecode{FileName: "counter.o", Object: bpf.TracepointCounter, Programs: progs},
		oci.Bytecode{FileName: "counter.o", Object: bpf.TracepointCounterBigEndian, Programs: progs, Platform: "linux/s390x"})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := oci.NewRepository(ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CopyTo(context.Background(), repo, repo.Reference.Reference, nil); err != nil {
		t.Fatal(err)
	}
	return ref
}

type signingKey struct {
	ref bpfleetv1.KeyReference
	key interface {
		Public() crypto.PublicKey
		Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error)
	}
}

// keySecret makes a key pair and stores its public half in a Secret, as a
// platform team publishes cosign.pub.
func keySecret(t testing.TB, c client.Client, name string) signingKey {
	t.Helper()
	priv, pub, err := cosign.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := cosign.ParsePrivateKey(priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Data:       map[string][]byte{"cosign.pub": pub},
	}
	if err := c.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	return signingKey{
		ref: bpfleetv1.KeyReference{SecretReference: bpfleetv1.SecretReference{Name: name, Namespace: "default"}},
		key: signer,
	}
}

// assertSignatureInvalid waits for the program to stall with
// SignatureInvalid and a message containing msg, checks the Event, and that
// nothing was loaded.
func assertSignatureInvalid(t *testing.T, c client.Client, p *bpfleetv1.TracepointProgram, msg string) {
	t.Helper()
	got := waitFor(t, c, p.Name, "Stalled with SignatureInvalid: "+msg, func(p *bpfleetv1.TracepointProgram) bool {
		s := meta.FindStatusCondition(p.Status.Conditions, bpfleetv1.ConditionStalled)
		return s != nil && s.Status == metav1.ConditionTrue && s.Reason == bpfleetv1.ReasonSignatureInvalid &&
			len(p.Status.Failures) == 1 && strings.Contains(p.Status.Failures[0].Message, msg)
	})
	if meta.IsStatusConditionTrue(got.Status.Conditions, bpfleetv1.ConditionReady) {
		t.Error("Ready=True for an image refused")
	}
	if st := nodeEntry(t, c, got.UID); st.ProgramID != 0 {
		t.Errorf("program %d loaded from an image refused", st.ProgramID)
	}
	waitEventFor(t, c, got.UID, bpfleetv1.ReasonSignatureInvalid)
}

func patchVerify(t *testing.T, c client.Client, name string, keys ...bpfleetv1.KeyReference) {
	t.Helper()
	var p bpfleetv1.TracepointProgram
	if err := c.Get(context.Background(), types.NamespacedName{Name: name}, &p); err != nil {
		t.Fatal(err)
	}
	base := p.DeepCopy()
	p.Spec.ByteCode.Image.Verify.Keys = keys
	if err := c.Patch(context.Background(), &p, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

// waitEventFor waits for an Event with reason about the object uid.
func waitEventFor(t *testing.T, c client.Client, uid types.UID, reason string) {
	t.Helper()
	var seen []string
	poll(t, "event "+reason, func(ctx context.Context) bool {
		var evs eventsv1.EventList
		if err := c.List(ctx, &evs); err != nil {
			return false
		}
		seen = seen[:0]
		for _, e := range evs.Items {
			if e.Regarding.UID == uid && e.Reason == reason {
				return true
			}
			seen = append(seen, e.Reason)
		}
		return false
	}, func() string { return strings.Join(seen, ", ") })
}

// An entries artifact under a signature policy is written only once it
// verifies: unsigned, the MapPolicy stalls with SignatureInvalid and the
// map stays empty; signed by a trusted key, its entries go live.
func TestEntriesArtifactSignaturePolicy(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host1, _, _, _ := testkernel.VethPair(t)
	x := xdpFilter(s, "filter-signed", host1)
	apply(t, s, x)
	ref := pushAddresses(t, s, "signed", addresses(100, 0))
	trusted, other := keySecret(t, s.Client, "entries-trusted"), keySecret(t, s.Client, "entries-other")

	mp := blocklist("block-signed", x.Name)
	mp.Spec.EntriesFrom = &bpfleetv1.EntriesSource{Image: bpfleetv1.ImageSource{
		Ref: ref, Verify: &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{other.ref}},
	}}
	if err := s.Client.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePolicy(t, s.Client, mp) })
	waitPolicy(t, s.Client, mp, "Stalled with SignatureInvalid", func(mp *bpfleetv1.MapPolicy) bool {
		c := meta.FindStatusCondition(mp.Status.Conditions, bpfleetv1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == bpfleetv1.ReasonSignatureInvalid
	})
	live := nodeEntry(t, s.Client, x.UID).Objects.MapIDs["blocklist"]
	if got, _, err := maps.Usage(openMap(t, live)); err != nil || got != 0 {
		t.Errorf("%d entries written from an unsigned artifact (%v)", got, err)
	}

	repo, err := oci.NewRepository(ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	dgst, err := oci.Resolve(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cosign.Sign(ctx, repo, s.Registry+"/lists/blocked", digest.Digest(dgst), trusted.key); err != nil {
		t.Fatal(err)
	}
	base := mp.DeepCopy()
	mp.Spec.EntriesFrom.Image.Verify.Keys = []bpfleetv1.KeyReference{other.ref, trusted.ref}
	if err := s.Client.Patch(ctx, mp, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitPolicy(t, s.Client, mp, "Ready with the signed entries", func(mp *bpfleetv1.MapPolicy) bool {
		return policyReady(mp) && len(mp.Status.Usage) == 1 && mp.Status.Usage[0].Entries == 100
	})
}
