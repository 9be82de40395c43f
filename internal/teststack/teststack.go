package teststack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// Shared is the stack the tests of one process share, started by the
// first that asks for it.
type Shared struct {
	// Node is the agent's node.
	Node string
	// PinRoot is the agent's pin root, under /sys/fs/bpf (which the agent
	// mounts if the host has not); ImageDir and StateDir its image cache
	// and state, under the temporary directory. Each names the process.
	PinRoot, ImageDir, StateDir string

	once  sync.Once
	stack *localstack.Stack
	err   error
}

// New describes the stack of a test package called name (it names the
// paths) whose agent runs as node.
func New(name, node string) *Shared {
	pid := os.Getpid()
	return &Shared{
		Node:     node,
		PinRoot:  fmt.Sprintf("/sys/fs/bpf/bpfleet-%s-%d", name, pid),
		ImageDir: filepath.Join(os.TempDir(), fmt.Sprintf("bpfleet-%s-images-%d", name, pid)),
		StateDir: filepath.Join(os.TempDir(), fmt.Sprintf("bpfleet-%s-state-%d", name, pid)),
	}
}

// Start returns the stack, starting it on the first call; a test without
// root and a working bpf() fails there (testkernel.Require).
func (s *Shared) Start(t testing.TB) *localstack.Stack {
	t.Helper()
	testkernel.Require(t)
	s.once.Do(func() {
		s.stack, s.err = localstack.Start(context.Background(), localstack.Options{
			NodeName: s.Node, RegistryAddr: "127.0.0.1:0", PinRoot: s.PinRoot,
			ImageDir: s.ImageDir, StateDir: s.StateDir,
			OperatorAddr: "0", AgentAddr: "0",
			// The local registries answer at once; a test's hanging one
			// fails within this.
			RegistryTimeout: 5 * time.Second,
		})
	})
	if s.err != nil {
		t.Fatalf("start local stack: %v", s.err)
	}
	return s.stack
}

// Main runs the tests of m and exits. The operator's and agent's logs go
// to a file, named when a test fails, so that they do not bury test and
// benchmark output. After the tests it deletes every program, fails when
// the agent left anything under its pin root, and stops the stack.
func (s *Shared) Main(m *testing.M) {
	logs, err := os.CreateTemp("", "bpfleet-*.log")
	if err != nil {
		panic(err)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logs)))
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "operator and agent logs:", logs.Name())
	} else {
		_ = os.Remove(logs.Name())
	}
	if s.stack != nil {
		code = max(code, s.stop())
	}
	_ = os.Remove(s.PinRoot) // empty by now; left if not, for a look
	_ = os.RemoveAll(s.ImageDir)
	_ = os.RemoveAll(s.StateDir)
	os.Exit(code)
}

// stop deletes what is left, checks that the pin root is empty, and stops
// the stack; it returns 1 if any of that failed. The agent must have
// unloaded everything by itself, before Stop prunes whatever is left as a
// safety net.
func (s *Shared) stop() int {
	code := 0
	if err := s.stack.DeleteAllPrograms(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "delete all programs:", err)
		code = 1
	}
	if entries, _ := os.ReadDir(s.PinRoot); len(entries) > 0 {
		fmt.Fprintf(os.Stderr, "%s still holds %d entries after every program was deleted\n", s.PinRoot, len(entries))
		code = 1
	}
	if err := s.stack.Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "stop local stack:", err)
		code = 1
	}
	return code
}
