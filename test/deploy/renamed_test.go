package deploy

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bpfleet/bpfleet/internal/scheme"
)

// bpfleet installed under other names (testdata/renamed: namespace
// edge-ebpf, every name prefixed with edge-, the agents' ServiceAccount
// renamed node-agent) still pins each agent to its own node: the
// admission policies follow the install's namespace and ServiceAccount
// instead of naming bpfleet-system/bpfleet-agent. The agent, with its
// renamed identity, creates its own node's set, and is refused another
// node's set, a set it would schedule, and another node's Lease.
func TestRenamedInstall(t *testing.T) {
	if out, err := kubectl("apply", "--server-side", "-k", filepath.Join("testdata", "renamed")); err != nil {
		t.Fatalf("kubectl apply --server-side -k testdata/renamed: %v\n%s", err, out)
	}
	ctx := context.Background()
	admin := adminClient(t)
	agent := func(node string) client.Client {
		c, err := client.New(nodeBoundConfig("edge-ebpf", "edge-node-agent", node), client.Options{Scheme: scheme.New()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	agentA := agent("renamed-a")
	// The API server loads policies asynchronously: wait until the
	// renamed agent is refused another node's set (today's policy, naming
	// bpfleet-system/bpfleet-agent, never refuses it).
	refused := func(what string, try func() error, cleanup client.Object, want string) {
		t.Helper()
		var last error
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			last = try()
			if last == nil && cleanup != nil {
				_ = admin.Delete(ctx, cleanup)
			}
			return last != nil && strings.Contains(last.Error(), want), nil
		})
		if err != nil {
			t.Fatalf("the renamed agent of renamed-a may %s (last: %v), want a denial saying %q", what, last, want)
		}
	}
	refused("create renamed-b's NodeProgramSet", func() error { return agentA.Create(ctx, set("renamed-b")) },
		set("renamed-b"), "may write only the NodeProgramSet renamed-a")

	if err := agentA.Create(ctx, set("renamed-a")); err != nil {
		t.Fatalf("the renamed agent of renamed-a creating its own set: %v", err)
	}
	scheduled := set("renamed-c")
	scheduled.Spec.Scheduled = true
	refused("create its set scheduled", func() error { return agent("renamed-c").Create(ctx, scheduled) },
		set("renamed-c"), "empty spec, not scheduled")

	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "edge-ebpf", Name: "renamed-b"}}
	refused("create renamed-b's Lease", func() error { return agentA.Create(ctx, lease.DeepCopy()) },
		lease, "may write only the Lease renamed-a")
}
