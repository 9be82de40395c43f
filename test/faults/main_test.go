package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/images"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// node is the one node of the suite; one agent at a time runs for it.
const node = "faults-node"

// suite is what every case shares: the control plane with the operator,
// the registry, and the agent's binary.
type suite struct {
	stack      *localstack.Stack
	dir        string // the agent's binary, kubeconfig and image cache
	agentBin   string
	kubeconfig string
}

var (
	shared    *suite
	sharedErr error
	once      sync.Once
	logs      *os.File
)

// TestMain stops the shared stack after every case ran. The operator's
// log goes to a file, named when a case fails.
func TestMain(m *testing.M) {
	var err error
	if logs, err = os.CreateTemp("", "bpfleet-faults-*.log"); err != nil {
		panic(err)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logs)))
	code := m.Run()
	if shared != nil {
		if err := shared.stack.Stop(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "stop local stack:", err)
			code = 1
		}
		_ = os.RemoveAll(shared.dir)
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, "operator log:", logs.Name())
	} else {
		_ = os.Remove(logs.Name())
	}
	os.Exit(code)
}

// start returns the suite, starting it on first use.
func start(t *testing.T) *suite {
	t.Helper()
	testkernel.Require(t)
	once.Do(func() { shared, sharedErr = newSuite() })
	if sharedErr != nil {
		t.Fatalf("start the suite: %v", sharedErr)
	}
	return shared
}

func newSuite() (*suite, error) {
	dir, err := os.MkdirTemp("", "bpfleet-faults-")
	if err != nil {
		return nil, err
	}
	s := &suite{dir: dir, agentBin: filepath.Join(dir, "bpfman-agent"), kubeconfig: filepath.Join(dir, "kubeconfig")}
	if err := buildAgent(s.agentBin); err != nil {
		return nil, err
	}
	s.stack, err = localstack.Start(context.Background(), localstack.Options{
		NodeName: node, RegistryAddr: "127.0.0.1:0", OperatorAddr: "0", ExternalAgent: true,
	})
	if err != nil {
		return nil, err
	}
	return s, s.stack.Plane.Kubeconfig(s.kubeconfig)
}

// buildAgent builds the agent's binary as a node runs it.
func buildAgent(bin string) error {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-tags", images.BuildTags, "-o", bin, "./bpfman-agent")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./bpfman-agent: %w\n%s", err, out)
	}
	return nil
}
