package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// env is a registry with basic auth on 127.0.0.1, a docker config file
// holding its credentials (read by bpfleet and cosign alike), and an empty
// local image store.
type env struct {
	t     *testing.T
	host  string
	dir   string
	stdin io.Reader
}

// withStdin returns e with the CLI's standard input set to input.
func (e *env) withStdin(input string) *env {
	c := *e
	c.stdin = strings.NewReader(input)
	return &c
}

func newEnv(t *testing.T) *env {
	t.Helper()
	creds := &oci.Credentials{Username: "team", Password: "s3cret"}
	host := ocitest.Serve(t, creds)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "docker", "config.json"), string(ocitest.DockerConfig(host, creds)))
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	t.Setenv("BPFLEET_STORE", filepath.Join(dir, "store"))
	t.Setenv("HOME", dir)
	t.Setenv("COSIGN_PASSWORD", "pass phrase")
	return &env{t: t, host: host, dir: dir}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// bpfleet runs the CLI in-process and returns its exit code and output.
func (e *env) bpfleet(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	stdin := e.stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code = Main(append([]string{"bpfleet"}, args...), stdin, &out, &errb)
	return code, strings.TrimSpace(out.String()), errb.String()
}

// must runs the CLI and fails the test unless it exits 0; it returns
// standard output.
func (e *env) must(args ...string) string {
	e.t.Helper()
	code, out, errs := e.bpfleet(args...)
	if code != 0 {
		e.t.Fatalf("bpfleet %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// object writes a committed eBPF object to the test's directory.
func (e *env) object(name string, data []byte) string {
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// cosign runs the real cosign CLI, built by hack/cosign.sh into bin/.
func (e *env) cosign(args ...string) (string, error) {
	e.t.Helper()
	bin, err := filepath.Abs("../../bin/cosign")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		e.t.Fatalf("cosign not built: run hack/cosign.sh (make test does): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *env) mustCosign(args ...string) {
	e.t.Helper()
	if out, err := e.cosign(args...); err != nil {
		e.t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func decodeInspection(t *testing.T, raw string) inspection {
	t.Helper()
	var in inspection
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		t.Fatalf("inspect -o json: %v\n%s", err, raw)
	}
	return in
}
