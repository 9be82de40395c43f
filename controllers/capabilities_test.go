package controllers_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// publishCapabilities plays node's agent publishing its kernel's hooks.
func publishCapabilities(t *testing.T, node string, hooks ...bpfleetv1.HookSupport) {
	t.Helper()
	eventually(t, node+"'s set created", func() (bool, error) {
		_, err := getSet(node)
		return err == nil, nil
	})
	writeReport(t, node, func(rs *bpfleetv1.NodeProgramReportStatus) {
		rs.Capabilities = &bpfleetv1.NodeCapabilities{KernelRelease: "6.18", BTF: true, Hooks: hooks}
	})
}

func TestUnsupportedNodesAreReportedNotFailed(t *testing.T) {
	ctx := context.Background()
	sel := map[string]string{"test": "caps"}
	createNode(t, "caps-ok", sel)
	createNode(t, "caps-no", sel)
	publishCapabilities(t, "caps-ok", bpfleetv1.HookSupport{Name: bpfleetv1.HookKprobe, Supported: true})
	publishCapabilities(t, "caps-no", bpfleetv1.HookSupport{Name: bpfleetv1.HookKprobe, Reason: "kernel lacks kprobes"})

	p := &bpfleetv1.KprobeProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "caps"},
		Spec: bpfleetv1.KprobeProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode:     bpfleetv1.ByteCodeSource{Path: "/opt/bpf/kprobe.o"},
					NodeSelector: metav1.LabelSelector{MatchLabels: sel},
				},
				ProgramName: "kprobe_openat",
			},
			Kprobe: bpfleetv1.KprobeAttach{Function: "do_sys_openat2"},
		},
	}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "scheduled on caps-ok", func() (bool, error) {
		s, err := getSet("caps-ok")
		return err == nil && len(s.Spec.Programs) == 1 && s.Spec.Programs[0].Attach.Hook == bpfleetv1.HookKprobe, err
	})
	if s, _ := getSet("caps-no"); len(s.Spec.Programs) != 0 {
		t.Fatalf("program sent to a node that lacks kprobes: %+v", s.Spec.Programs)
	}
	reportAs(t, "caps-ok", "KprobeProgram", p, &bpfleetv1.NodeProgramStatus{State: bpfleetv1.StateReady})

	eventually(t, "Ready with one unsupported node", func() (bool, error) {
		var got bpfleetv1.KprobeProgram
		if err := k8s.Get(ctx, types.NamespacedName{Name: p.Name}, &got); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, bpfleetv1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && got.Status.Nodes.Unsupported == 1 &&
			got.Status.Nodes.Summary == "1/2" && strings.Contains(c.Message, "1 cannot run it"), nil
	})
}
