// Package controlplane starts a real kube-apiserver and etcd on this host,
// with bpfleet's CRDs installed: the API of the local stack (make run) and of
// every envtest-based test. The binaries are built from the Go module proxy
// by hack/envtest-bins.sh into bin/; nothing is downloaded here.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/bpfleet/bpfleet/internal/scheme"
)

// Plane is a running control plane.
type Plane struct {
	env    *envtest.Environment
	Config *rest.Config
	Root   string // the repository root

	// args is the kube-apiserver's command line, once StopAPIServer
	// stopped it; restarted is the server StartAPIServer started then.
	args      []string
	restarted *exec.Cmd
}

// Namespace is the namespace bpfleet installs into (config/default): the
// agents' Leases live there.
const Namespace = "bpfleet-system"

// ExistingEnv names the environment variable that points Start at a
// kubeconfig of a running API server to use instead of starting one (the
// host's, for tests in a VM: hack/vmkernel): Start installs the CRDs and
// the namespace there, and Stop leaves it running.
const ExistingEnv = "BPFLEET_CONTROLPLANE_KUBECONFIG"

// Start brings up etcd and kube-apiserver (or uses those $ExistingEnv
// names), installs the CRDs and creates the install namespace.
func Start() (*Plane, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme.New(),
	}
	if err := useExisting(env, root); err != nil {
		return nil, err
	}
	cfg, err := env.Start()
	if err != nil {
		// Start may fail after etcd and kube-apiserver run (installing the
		// CRDs, say): stop them rather than leave them behind.
		return nil, errors.Join(fmt.Errorf("start control plane: %w", err), env.Stop())
	}
	if err := createNamespace(cfg); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return &Plane{env: env, Config: cfg, Root: root}, nil
}

// useExisting points env at the API server $ExistingEnv names, or else
// at the binaries hack/envtest-bins.sh built into root's bin/.
func useExisting(env *envtest.Environment, root string) error {
	if file := os.Getenv(ExistingEnv); file != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", file)
		if err != nil {
			return fmt.Errorf("%s: %w", ExistingEnv, err)
		}
		existing := true
		env.UseExistingCluster, env.Config = &existing, cfg
		return nil
	}
	env.BinaryAssetsDirectory = filepath.Join(root, "bin")
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(env.BinaryAssetsDirectory, b)); err != nil {
			return fmt.Errorf("%s not built in %s: run hack/envtest-bins.sh (make test does): %w", b, env.BinaryAssetsDirectory, err)
		}
	}
	return nil
}

func createNamespace(cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if err := c.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", Namespace, err)
	}
	return nil
}

// Kubectl runs the kubectl that hack/ built into bin/ against the plane,
// as the user of kubeconfig (see Kubeconfig), and returns its output.
func (p *Plane) Kubectl(kubeconfig string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(p.Root, "bin", "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Stop stops the apiserver and etcd and removes their data.
func (p *Plane) Stop() error {
	var err error
	if p.restarted != nil {
		err = stopCmd(p.restarted)
	}
	return errors.Join(err, p.env.Stop())
}

// Kubeconfig writes a kubeconfig for an admin user to path.
func (p *Plane) Kubeconfig(path string) error {
	user, err := p.env.AddUser(envtest.User{Name: "bpfleet-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user: %w", err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	return os.WriteFile(path, b, 0o600)
}

// RepoRoot finds the repository root: $BPFLEET_ROOT, or the nearest
// directory above the working directory holding go.mod and PROJECT.
func RepoRoot() (string, error) {
	if r := os.Getenv("BPFLEET_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isRoot(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root not found above the working directory: set BPFLEET_ROOT")
		}
		dir = parent
	}
}

func isRoot(dir string) bool {
	for _, f := range []string{"go.mod", "PROJECT"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}
