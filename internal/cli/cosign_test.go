package cli

import (
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/bpf"
)

// pushed builds and pushes the counter image to a new repository and
// returns its digest reference.
func (e *env) pushed(repo string) string {
	e.t.Helper()
	ref := e.host + "/" + repo + ":v1"
	e.must("image", "build", "-f", e.object(strings.ReplaceAll(repo, "/", "-")+".o", bpf.TracepointCounter), "-t", ref)
	return e.must("image", "push", "-q", ref)
}

// An image signed by the real cosign CLI (key pair, no transparency log)
// verifies in bpfleet; a key that did not sign it does not.
func TestCosignSignatureVerifiesInBpfleet(t *testing.T) {
	e := newEnv(t)
	e.mustCosign("generate-key-pair")
	e.must("image", "generate-key-pair", "--output-prefix", e.dir+"/other")
	ref := e.pushed("cosign/signed")
	e.mustCosign("sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--allow-http-registry", ref)

	if out := e.must("image", "verify", "--key", e.dir+"/cosign.pub", ref); out != ref {
		t.Errorf("verify printed %q, want %q", out, ref)
	}
	if code, _, errs := e.bpfleet("image", "verify", "--key", e.dir+"/other.pub", ref); code != exitNotSigned ||
		!strings.Contains(errs, "no signature verifies") {
		t.Errorf("verify with a key that did not sign: exit %d, %s", code, errs)
	}
	in := decodeInspection(t, e.must("image", "inspect", "-o", "json", "--key", e.dir+"/cosign.pub", ref))
	if in.Signatures != 1 || len(in.Verified) != 1 {
		t.Errorf("inspect: %d signatures, %d verified; want 1 and 1", in.Signatures, len(in.Verified))
	}
	unsigned := e.pushed("cosign/unsigned")
	if code, _, errs := e.bpfleet("image", "verify", "--key", e.dir+"/cosign.pub", unsigned); code != exitNotSigned ||
		!strings.Contains(errs, "not signed") {
		t.Errorf("verify of an unsigned image: exit %d, %s", code, errs)
	}
}

// An image signed by `bpfleet image sign` verifies with `cosign verify`,
// with a key pair made by cosign and with one made by bpfleet.
func TestBpfleetSignatureVerifiesInCosign(t *testing.T) {
	e := newEnv(t)
	e.mustCosign("generate-key-pair")
	e.must("image", "generate-key-pair", "--output-prefix", e.dir+"/bpfleet")
	for _, prefix := range []string{"cosign", "bpfleet"} {
		ref := e.pushed("signed/by-" + prefix)
		e.must("image", "sign", "--key", e.dir+"/"+prefix+".key", ref)
		e.mustCosign("verify", "--key", prefix+".pub", "--insecure-ignore-tlog", "--allow-http-registry", ref)
		other := map[string]string{"cosign": "bpfleet", "bpfleet": "cosign"}[prefix]
		if out, err := e.cosign("verify", "--key", other+".pub", "--insecure-ignore-tlog", "--allow-http-registry", ref); err == nil {
			t.Errorf("cosign verified %s with a key that did not sign it:\n%s", ref, out)
		}
	}
}

func TestSignWithWrongPassword(t *testing.T) {
	e := newEnv(t)
	e.must("image", "generate-key-pair", "--output-prefix", e.dir+"/cosign")
	if code, _, errs := e.bpfleet("image", "generate-key-pair", "--output-prefix", e.dir+"/cosign"); code != exitFailure ||
		!strings.Contains(errs, "exists") {
		t.Errorf("a second generate-key-pair over the same files: exit %d, %s; want a refusal", code, errs)
	}
	ref := e.pushed("signed/wrong-password")
	t.Setenv("COSIGN_PASSWORD", "not it")
	if code, _, errs := e.bpfleet("image", "sign", "--key", e.dir+"/cosign.key", ref); code != exitFailure ||
		!strings.Contains(errs, "wrong password") {
		t.Errorf("exit %d, %s; want exit 1 and a wrong password message", code, errs)
	}
}
