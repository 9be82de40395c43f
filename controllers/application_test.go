package controllers_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// An application reaches its nodes as one entry carrying all its
// programs; a node lacking an optional program's hook still gets it, a
// node lacking a required one is Unsupported; a MapPolicy reaches its
// maps; status counts each program's nodes from the agents' per-program
// entries.
func TestApplicationIsOneEntryOfItsPrograms(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "app"}
	hooks := func(fexit bool, fentry bool) []bpfleetv1.HookSupport {
		return []bpfleetv1.HookSupport{
			{Name: bpfleetv1.HookFentry, Supported: fentry, Reason: reasonUnless(fentry, "kernel lacks fentry")},
			{Name: bpfleetv1.HookFexit, Supported: fexit, Reason: reasonUnless(fexit, "kernel lacks fexit")},
			{Name: bpfleetv1.HookTracepoint, Supported: true},
		}
	}
	createNode(t, "app-all", sel)
	createNode(t, "app-no-fexit", sel)
	createNode(t, "app-no-fentry", sel)
	publishCapabilities(t, "app-all", hooks(true, true)...)
	publishCapabilities(t, "app-no-fexit", hooks(false, true)...)
	publishCapabilities(t, "app-no-fentry", hooks(true, false)...)

	app := &bpfleetv1.ClusterBpfApplication{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: bpfleetv1.ClusterBpfApplicationSpec{
			ProgramSource: bpfleetv1.ProgramSource{
				ByteCode:     bpfleetv1.ByteCodeSource{Path: "/opt/bpf/fentry_counter.o"},
				NodeSelector: metav1.LabelSelector{MatchLabels: sel},
				GlobalData:   map[string]bpfleetv1.GlobalValue{"increment": "1"},
			},
			Programs: []bpfleetv1.ApplicationProgram{
				{Name: "fentry_openat", Fentry: &bpfleetv1.FentryAttach{Function: "do_sys_openat2"}},
				{Name: "fexit_openat", Fexit: &bpfleetv1.FentryAttach{Function: "do_sys_openat2"}, Optional: true},
				{Name: "count_openat", Tracepoint: &bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}},
			},
		},
	}
	if err := k8s.Create(ctx, app); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"app-all", "app-no-fexit"} {
		eventually(t, "application scheduled on "+node, func() (bool, error) {
			s, err := getSet(node)
			if err != nil || len(s.Spec.Programs) != 1 {
				return false, err
			}
			np := s.Spec.Programs[0]
			got := np.Attachments()
			return np.Kind == "ClusterBpfApplication" && np.ProgramName == "" && len(got) == 3 &&
				got[0].Name == "fentry_openat" && got[0].Attach.Hook == bpfleetv1.HookFentry &&
				got[1].Optional && got[2].Attach.Hook == bpfleetv1.HookTracepoint && np.GlobalData["increment"] == "1", nil
		})
	}
	if s, _ := getSet("app-no-fentry"); len(s.Spec.Programs) != 0 {
		t.Fatalf("application sent to a node that lacks the hook of a required program: %+v", s.Spec.Programs)
	}
	ready := func(name string) bpfleetv1.ProgramAttachmentStatus {
		return bpfleetv1.ProgramAttachmentStatus{Name: name, State: bpfleetv1.StateReady, ProgramID: 7}
	}
	reportAs(t, "app-all", "ClusterBpfApplication", app, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady,
		Programs: []bpfleetv1.ProgramAttachmentStatus{ready("fentry_openat"), ready("fexit_openat"), ready("count_openat")}})
	reportAs(t, "app-no-fexit", "ClusterBpfApplication", app, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady,
		Programs: []bpfleetv1.ProgramAttachmentStatus{ready("fentry_openat"),
			{Name: "fexit_openat", State: bpfleetv1.StateUnsupported, Message: "kernel lacks fexit"}, ready("count_openat")}})

	size := int32(128)
	mp := &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "app-calls"},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "ClusterBpfApplication", Name: app.Name}}},
			MapName:  "calls", MaxEntries: &size,
		},
	}
	if err := k8s.Create(ctx, mp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the MapPolicy sizes the application's map", func() (bool, error) {
		s, err := getSet("app-all")
		return err == nil && len(s.Spec.Programs) == 1 && len(s.Spec.Programs[0].Maps) == 1 &&
			s.Spec.Programs[0].Maps[0] == bpfleetv1.MapConfig{Name: "calls", MaxEntries: size}, err
	})
	eventually(t, "Ready, with each program's nodes", func() (bool, error) {
		var got bpfleetv1.ClusterBpfApplication
		if err := k8s.Get(ctx, types.NamespacedName{Name: app.Name}, &got); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionReady)
		want := []bpfleetv1.ApplicationProgramStatus{
			{Name: "fentry_openat", Ready: 2}, {Name: "fexit_openat", Ready: 1, Unsupported: 1}, {Name: "count_openat", Ready: 2},
		}
		return c != nil && c.Status == metav1.ConditionTrue && got.Status.Nodes.Summary == "2/3" &&
			got.Status.Nodes.Unsupported == 1 && equalCounts(got.Status.Programs, want) &&
			c.Message == "running on 2 of 3 nodes, 1 cannot run it (program fentry_openat needs the Fentry hook, which this node lacks: kernel lacks fentry)", nil
	})
}

func reasonUnless(ok bool, reason string) string {
	if ok {
		return ""
	}
	return reason
}

func equalCounts(got, want []bpfleetv1.ApplicationProgramStatus) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
