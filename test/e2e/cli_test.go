package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/buildinfo"
)

// A platform team's whole path, with the bpfleet binary: build a
// two-platform image from .o files, push it to a registry that demands
// basic auth, sign it; a cluster user applies a program that requires the
// signature and pulls with a pull secret: it runs in the kernel.
func TestCLIBuildPushSignApply(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	host, _, dockerConfig := authRegistry(t)
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "docker", "config.json"), dockerConfig)
	writeTestFile(t, filepath.Join(dir, "counter.o"), bpf.TracepointCounter)
	writeTestFile(t, filepath.Join(dir, "counter-s390x.o"), bpf.TracepointCounterBigEndian)
	cli := buildCLI(t, dir)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(dir, "docker"),
			"BPFLEET_STORE="+filepath.Join(dir, "store"), "COSIGN_PASSWORD=pw")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bpfleet %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
		}
		return strings.TrimSpace(string(out))
	}
	ref := host + "/team/counter:v1"
	run("image", "build", "-f", "counter.o", "-f", "counter-s390x.o", "--platform", "linux/s390x", "-t", ref)
	pinned := run("image", "push", ref)
	run("image", "generate-key-pair")
	run("image", "sign", "--key", "cosign.key", ref)
	pub, err := os.ReadFile(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "cli-regcred", Namespace: "default"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: dockerConfig}},
		{ObjectMeta: metav1.ObjectMeta{Name: "cli-signing", Namespace: "default"}, Data: map[string][]byte{"cosign.pub": pub}},
	} {
		if err := s.Client.Create(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	p := counter("cli-counter", ref, nil)
	p.Spec.ByteCode.Image.PullSecret = &bpfleetv1.SecretReference{Name: "cli-regcred", Namespace: "default"}
	p.Spec.ByteCode.Image.Verify = &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{
		{SecretReference: bpfleetv1.SecretReference{Name: "cli-signing", Namespace: "default"}},
	}}
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, s.Client, p.Name)
	if d := got.Status.Image.Digest; !strings.HasSuffix(pinned, "@"+d) {
		t.Errorf("status digest %s, pushed %s", d, pinned)
	}
	if st := nodeEntry(t, s.Client, got.UID); st.ProgramID == 0 || !bpftoolShows(t, st.ProgramID) {
		t.Fatalf("program not in the kernel: %+v", st)
	}
	if err := s.Client.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s.Client, p.Name)
}

// buildCLI builds cmd/bpfleet into dir.
func buildCLI(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bpfleet")
	ldflags := "-ldflags=" + cliStamp.LDFlags()
	if out, err := exec.Command("go", "build", ldflags, "-o", bin, "../../cmd/bpfleet").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/bpfleet: %v\n%s", err, out)
	}
	return bin
}

// cliStamp is the build the tests' CLI says it is (bpfleet version).
var cliStamp = buildinfo.Stamp{Version: "v0.0.0-e2e", Revision: "e2e0c0ffee0123456789"}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
