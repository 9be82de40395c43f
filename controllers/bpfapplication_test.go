package controllers_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

// A team's BpfApplication: refused (Stalled, not scheduled) until the
// cluster's BpfApplicationPolicy allows its image; then scheduled with
// its namespace, which the node keeps its pod targets to, and with the
// policy's signature keys; its status adds up the pods the nodes match;
// a tightened policy unloads it from the nodes, and a relaxed one brings
// it back; a grant to another namespace stalls it again.
func TestBpfApplicationPolicyAndNamespace(t *testing.T) {
	ctx := context.Background()
	host := ocitest.Serve(t, nil)
	ref := host + "/bpfleet/tc:v1"
	if _, err := oci.Push(ctx, ref, oci.Bytecode{FileName: "tc_counter.o", Object: bpf.TCCounter,
		Programs: map[string]string{"tc_count": "tcx"}}, nil); err != nil {
		t.Fatal(err)
	}
	sel := map[string]string{"test": "bpfapp"}
	createNode(t, "bpfapp-1", sel)
	publishCapabilities(t, "bpfapp-1", bpfleetv1.HookSupport{Name: bpfleetv1.HookTCX, Supported: true})
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-x"}}); err != nil {
		t.Fatal(err)
	}
	app := &bpfleetv1.BpfApplication{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-x", Name: "counter"},
		Spec: bpfleetv1.BpfApplicationSpec{
			ProgramSource: bpfleetv1.ProgramSource{
				ByteCode:     bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: ref}},
				NodeSelector: metav1.LabelSelector{MatchLabels: sel},
			},
			Programs: []bpfleetv1.BpfApplicationProgram{{Name: "tc_count", TCX: &bpfleetv1.PodTCXAttach{
				Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}}, Direction: bpfleetv1.TCXIngress,
				NetworkNamespaces: bpfleetv1.LocalPodSelector{Pods: bpfleetv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			}}},
		},
	}
	if err := k8s.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	waitAppCondition(t, app, bpfleetv1.ConditionStalled, bpfleetv1.ReasonImageNotAllowed)
	if s, _ := getSet("bpfapp-1"); len(s.Spec.Programs) != 0 {
		t.Fatalf("scheduled without a BpfApplicationPolicy: %+v", s.Spec.Programs)
	}

	keys := &bpfleetv1.ImageVerification{Keys: []bpfleetv1.KeyReference{{SecretReference: bpfleetv1.SecretReference{Namespace: "bpfleet-system", Name: "team-keys"}, Key: "cosign.pub"}}}
	policy := &bpfleetv1.BpfApplicationPolicy{ObjectMeta: metav1.ObjectMeta{Name: bpfleetv1.BpfApplicationPolicyName},
		Spec: bpfleetv1.BpfApplicationPolicySpec{Repositories: []string{host + "/bpfleet"}, Verify: keys}}
	if err := k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, policy) })
	var np bpfleetv1.NodeProgram
	eventually(t, "the application scheduled", func() (bool, error) {
		s, err := getSet("bpfapp-1")
		if err != nil || len(s.Spec.Programs) != 1 {
			return false, err
		}
		np = s.Spec.Programs[0]
		return true, nil
	})
	if np.Kind != "BpfApplication" || np.Namespace != "team-x" || np.Name != "counter" || np.Ref() != "team-x/counter" {
		t.Errorf("entry %s %s/%s", np.Kind, np.Namespace, np.Name)
	}
	if len(np.Verify) != 1 || np.Verify[0].Keys[0].Name != "team-keys" {
		t.Errorf("verify %+v, want the policy's keys", np.Verify)
	}
	var tcx bpfleetv1.TCXAttach
	if err := np.Attachments()[0].Attach.Decode(&tcx); err != nil {
		t.Fatal(err)
	}
	if tcx.NetworkNamespaces == nil || tcx.NetworkNamespaces.Pods.MatchLabels["app"] != "web" || tcx.NetworkNamespaces.Namespaces != nil {
		t.Errorf("settings %+v", tcx)
	}

	reportAs(t, "bpfapp-1", "BpfApplication", app, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady,
		Pods:     &bpfleetv1.PodTargetsStatus{Matched: 2, Attached: 2},
		Programs: []bpfleetv1.ProgramAttachmentStatus{{Name: "tc_count", State: bpfleetv1.StateReady, ProgramID: 9}}})
	got := waitAppCondition(t, app, bpfleetv1.ConditionReady, bpfleetv1.ReasonReady)
	if got.Status.Pods == nil || got.Status.Pods.Summary != "2/2" || got.Status.ProgramsSummary != "1/1" {
		t.Errorf("status pods %+v, programs %q", got.Status.Pods, got.Status.ProgramsSummary)
	}

	// A tightened policy: the nodes unload the application at once; and
	// load it again once the policy allows it again.
	policy.Spec.Repositories = []string{host + "/other"}
	if err := k8s.Update(ctx, policy); err != nil {
		t.Fatal(err)
	}
	waitAppCondition(t, app, bpfleetv1.ConditionStalled, bpfleetv1.ReasonImageNotAllowed)
	eventually(t, "the application unloaded under the tightened policy", func() (bool, error) {
		s, err := getSet("bpfapp-1")
		return err == nil && len(s.Spec.Programs) == 0, err
	})
	reportAs(t, "bpfapp-1", "BpfApplication", app, nil)
	policy.Spec.Repositories = []string{host + "/bpfleet"}
	if err := k8s.Update(ctx, policy); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the application scheduled again", func() (bool, error) {
		s, err := getSet("bpfapp-1")
		return err == nil && len(s.Spec.Programs) == 1, err
	})
	reportAs(t, "bpfapp-1", "BpfApplication", app, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady,
		Pods:     &bpfleetv1.PodTargetsStatus{Matched: 2, Attached: 2},
		Programs: []bpfleetv1.ProgramAttachmentStatus{{Name: "tc_count", State: bpfleetv1.StateReady, ProgramID: 9}}})
	got = waitAppCondition(t, app, bpfleetv1.ConditionReady, bpfleetv1.ReasonReady)

	got.Spec.MapAccess = []bpfleetv1.MapAccessGrant{{Namespace: "team-y", ServiceAccount: "reader", Maps: []bpfleetv1.MapName{"packets"}}}
	if err := k8s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitAppCondition(t, app, bpfleetv1.ConditionStalled, bpfleetv1.ReasonOutsideNamespace)

	// Gone from the node (whose agent reports it unloaded), and the
	// policy's keys with it: no other test's agents are granted them.
	if err := k8s.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the application gone from the node's set", func() (bool, error) {
		s, err := getSet("bpfapp-1")
		return err == nil && len(s.Spec.Programs) == 0, err
	})
	reportAs(t, "bpfapp-1", "BpfApplication", app, nil)
	eventually(t, "the application deleted", func() (bool, error) {
		err := k8s.Get(ctx, types.NamespacedName{Namespace: app.Namespace, Name: app.Name}, &bpfleetv1.BpfApplication{})
		return apierrors.IsNotFound(err), nil
	})
}

// waitAppCondition waits until BpfApplication app, at its generation, has
// condition typ True with reason.
func waitAppCondition(t *testing.T, app *bpfleetv1.BpfApplication, typ, reason string) *bpfleetv1.BpfApplication {
	t.Helper()
	got := &bpfleetv1.BpfApplication{}
	eventually(t, app.Name+" "+typ+"/"+reason, func() (bool, error) {
		if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: app.Namespace, Name: app.Name}, got); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, typ)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason && got.Status.ObservedGeneration == got.Generation, nil
	})
	return got
}
