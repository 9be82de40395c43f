package controllers_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Flux and Argo CD judge health with kstatus: every program kind reads as
// InProgress while nodes have not reported, Current when Ready, and Failed
// when a node's failure is terminal; `kubectl wait --for=condition=Ready`
// returns once it is Ready.
func TestKstatusOfEveryKind(t *testing.T) {
	const node = "kstatus-node"
	createNode(t, node, map[string]string{"kstatus": "yes"})
	for _, u := range samplePrograms(t) {
		t.Run(u.GetKind(), func(t *testing.T) {
			ctx := context.Background()
			if err := k8s.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
			waitScheduledUID(t, node, u)
			wantKstatus(t, u, status.InProgressStatus)

			reportAs(t, node, u.GetKind(), u, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
			wantKstatus(t, u, status.CurrentStatus)
			kubectlWaitReady(t, u)

			reportAs(t, node, u.GetKind(), u, &bpfleetv1.NodeProgramStatus{
				State: bpfleetv1.StateFailed, Reason: bpfleetv1.ReasonVerifierRejected, Message: "invalid mem access", Terminal: true,
			})
			wantKstatus(t, u, status.FailedStatus)
		})
	}
}

// samplePrograms reads every program kind's sample from config/samples,
// renamed, loading from a path, and selecting only the kstatus node.
func samplePrograms(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(plane.Root, "config/samples/*.yaml"))
	more, _ := filepath.Glob(filepath.Join(plane.Root, "config/samples/kinds/*.yaml"))
	var out []*unstructured.Unstructured
	for _, f := range append(files, more...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				break
			}
			// A BpfApplication loads allowed images only (no path):
			// TestBpfApplicationPolicyAndNamespace covers its status.
			if k, ok := bpfleetv1.ProgramKindOf(u.GetKind()); !ok || k.Namespaced {
				continue
			}
			u.SetName("kstatus-" + strings.ToLower(u.GetKind()))
			_ = unstructured.SetNestedMap(u.Object, map[string]any{"path": "/opt/bpf/x.o"}, "spec", "byteCode")
			_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"kstatus": "yes"}, "spec", "nodeSelector", "matchLabels")
			out = append(out, u)
		}
	}
	want := 0
	for _, k := range bpfleetv1.ProgramKinds {
		if !k.Namespaced {
			want++
		}
	}
	if len(out) != want {
		t.Fatalf("%d program kinds in the samples, want all %d cluster-scoped ones", len(out), want)
	}
	return out
}

func waitScheduledUID(t *testing.T, node string, u *unstructured.Unstructured) {
	t.Helper()
	eventually(t, u.GetName()+" scheduled", func() (bool, error) {
		s, err := getSet(node)
		if err != nil {
			return false, err
		}
		for _, np := range s.Spec.Programs {
			if np.UID == u.GetUID() {
				return true, nil
			}
		}
		return false, nil
	})
}

// wantKstatus waits until kstatus computes want for the object.
func wantKstatus(t *testing.T, u *unstructured.Unstructured, want status.Status) {
	t.Helper()
	var last *status.Result
	eventually(t, u.GetName()+" kstatus "+want.String(), func() (bool, error) {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(u), u); err != nil {
			return false, err
		}
		res, err := status.Compute(u)
		if err != nil {
			return false, err
		}
		last = res
		return res.Status == want, nil
	})
	if last != nil && last.Message == "" {
		t.Errorf("%s: kstatus %s without a message", u.GetName(), last.Status)
	}
}

// kubectlWaitReady runs `kubectl wait --for=condition=Ready` on the object.
func kubectlWaitReady(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := plane.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	resource := strings.ToLower(u.GetKind()) + "/" + u.GetName()
	if out, err := plane.Kubectl(kubeconfig, "wait", "--for=condition=Ready", "--timeout=20s", resource); err != nil {
		t.Fatalf("kubectl wait --for=condition=Ready %s: %v\n%s", resource, err, out)
	}
}

// A MapPolicy reads as InProgress until its node writes it, Current once
// written, Failed when the node refuses its entries for good.
func TestKstatusOfMapPolicy(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "kstatus-policy"}
	createNode(t, "kstatus-policy-node", sel)
	p := pathProgram("kstatus-policy-prog", sel)
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, "kstatus-policy-node", p)
	report(t, "kstatus-policy-node", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})
	mp := &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "kstatus-policy"},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "TracepointProgram", Name: p.Name}}},
			MapName:  "counts",
		},
	}
	if err := k8s.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(bpfleetv1.GroupVersion.WithKind("MapPolicy"))
	u.SetName(mp.Name)
	wantKstatus(t, u, status.InProgressStatus)
	eventually(t, "the policy on the node", func() (bool, error) {
		s, err := getSet("kstatus-policy-node")
		return err == nil && len(s.Spec.MapPolicies) == 1, err
	})
	reportPolicy(t, "kstatus-policy-node", mp, bpfleetv1.NodeMapPolicyStatus{State: bpfleetv1.StateReady, Entries: 1, MaxEntries: 1000})
	wantKstatus(t, u, status.CurrentStatus)
	reportPolicy(t, "kstatus-policy-node", mp, bpfleetv1.NodeMapPolicyStatus{
		State: bpfleetv1.StateFailed, Reason: bpfleetv1.ReasonBadEntries, Message: "entry 0: key of 3 bytes, want 4", Terminal: true,
	})
	wantKstatus(t, u, status.FailedStatus)
}
