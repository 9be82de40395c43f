package node

import (
	"context"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// The agent's real token, the one the kubelet projected into its pod and
// bound to the pod and the node, may write its own node's set, report and
// Lease and is refused another node's: RBAC and the admission policy of
// config/default as a real pod's credentials meet them (no impersonation).
// Writes are dry runs: authorization and admission run, nothing changes.
func TestAgentTokenWritesOnlyItsOwnNode(t *testing.T) {
	ctx := context.Background()
	cfg := agentTokenConfig(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nodes := review.Status.UserInfo.Extra["authentication.kubernetes.io/node-name"]; len(nodes) != 1 || nodes[0] != NodeName {
		t.Fatalf("the agent's token names node %v, want %s (user %+v)", nodes, NodeName, review.Status.UserInfo)
	}
	agent, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	dry := client.DryRunAll

	report := &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: NodeName}}
	touch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"bpfleet.io/touched":"yes"}}}`))
	if err := agent.Patch(ctx, report, touch, dry); err != nil {
		t.Errorf("the agent writing its own node's report: %v", err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: NodeName}}
	if err := agent.Patch(ctx, lease, touch, dry); err != nil {
		t.Errorf("the agent renewing its own node's Lease: %v", err)
	}
	if err := agent.Create(ctx, &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: NodeName}}, dry); !apierrors.IsAlreadyExists(err) {
		t.Errorf("the agent creating its own node's set: %v, want AlreadyExists (allowed, and there)", err)
	}

	other := "another-node"
	for what, err := range map[string]error{
		"set":    agent.Create(ctx, &bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: other}}, dry),
		"Lease":  agent.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: other}}, dry),
		"report": agent.Create(ctx, &bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: other}}, dry),
	} {
		if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), NodeName) {
			t.Errorf("the agent writing %s's %s: %v, want a denial naming its own node", other, what, err)
		}
	}
}

// agentTokenConfig is a client config with the agent pod's projected
// token, read where the kubelet wrote it on the node.
func agentTokenConfig(t *testing.T) *rest.Config {
	t.Helper()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := k.Get(context.Background(), types.NamespacedName{Namespace: Namespace, Name: agentPod(t)}, &pod); err != nil {
		t.Fatal(err)
	}
	token, err := install.outputInNamespace("sh", "-c", "cat /var/lib/kubelet/pods/"+string(pod.UID)+"/volumes/kubernetes.io~projected/kube-api-access-*/token")
	if err != nil {
		t.Fatal(err)
	}
	return &rest.Config{Host: install.Server, BearerToken: strings.TrimSpace(token),
		TLSClientConfig: rest.TLSClientConfig{CAFile: install.pki.CAFile}, Timeout: 30 * time.Second}
}
