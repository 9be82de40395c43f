package corpus

import (
	"testing"

	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
	"github.com/bpfleet/bpfleet/internal/teststack"
)

// shared is the stack of this process's tests.
var shared = teststack.New("corpus", "corpus-node")

// TestMain stops the stack after the tests and checks that the agent left
// nothing under its pin root.
func TestMain(m *testing.M) { shared.Main(m) }

// startStack returns the local stack of this process.
func startStack(t testing.TB) *localstack.Stack { return shared.Start(t) }
