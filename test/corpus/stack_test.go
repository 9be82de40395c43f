package corpus

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

const node = "corpus-node"

var (
	stack    *localstack.Stack
	stackErr error
	once     sync.Once
	pinRoot  = fmt.Sprintf("/sys/fs/bpf/bpfleet-corpus-%d", os.Getpid())
	imageDir = filepath.Join(os.TempDir(), fmt.Sprintf("bpfleet-corpus-images-%d", os.Getpid()))
	stateDir = filepath.Join(os.TempDir(), fmt.Sprintf("bpfleet-corpus-state-%d", os.Getpid()))
)

// TestMain stops the stack after the tests and checks that the agent left
// nothing under its pin root.
func TestMain(m *testing.M) {
	logs, err := os.CreateTemp("", "bpfleet-corpus-*.log")
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
	if stack != nil {
		code = max(code, stop())
	}
	_ = os.Remove(pinRoot)
	_ = os.RemoveAll(imageDir)
	_ = os.RemoveAll(stateDir)
	os.Exit(code)
}

// stop deletes what is left, checks the pin root is empty, and stops the
// stack; it returns 1 if any of that failed.
func stop() int {
	code := 0
	if err := stack.DeleteAllPrograms(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "delete all programs:", err)
		code = 1
	}
	if entries, _ := os.ReadDir(pinRoot); len(entries) > 0 {
		fmt.Fprintf(os.Stderr, "%s still holds %d entries after every program was deleted\n", pinRoot, len(entries))
		code = 1
	}
	if err := stack.Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "stop local stack:", err)
		code = 1
	}
	return code
}

// startStack returns the local stack of this process.
func startStack(t testing.TB) *localstack.Stack {
	t.Helper()
	testkernel.Require(t)
	once.Do(func() {
		stack, stackErr = localstack.Start(context.Background(), localstack.Options{
			NodeName: node, RegistryAddr: "127.0.0.1:0", PinRoot: pinRoot,
			ImageDir: imageDir, StateDir: stateDir,
			OperatorAddr: "0", AgentAddr: "0", RegistryTimeout: 5 * time.Second,
		})
	})
	if stackErr != nil {
		t.Fatalf("start local stack: %v", stackErr)
	}
	return stack
}
