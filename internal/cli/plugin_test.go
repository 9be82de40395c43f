package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// plugin runs the binary as kubectl runs the plugin, against kubeconfig.
func plugin(t *testing.T, kubeconfig string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	argv := []string{"/usr/local/bin/" + pluginName}
	if len(args) > 0 && kubeconfig != "" { // after the command (or __complete's), which defines the flag
		i := 1
		if args[0] == cobraComplete {
			i = 2
		}
		argv = append(append(append(argv, args[:i]...), "--kubeconfig", kubeconfig), args[i:]...)
	} else {
		argv = append(argv, args...)
	}
	code = Main(argv, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func mustPlugin(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	code, out, errs := plugin(t, kubeconfig, args...)
	if code != 0 {
		t.Fatalf("kubectl bpfleet %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// status and nodes read what the operator and the agents wrote (sets,
// reports, Leases) from a real API server: two nodes, one that reports a
// program running and an application failing, one silent.
func TestPluginStatusAndNodes(t *testing.T) {
	plane, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plane.Stop() })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := plane.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	k8s, err := client.New(plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	opens, app := writeCluster(t, k8s)

	table := mustPlugin(t, kubeconfig, "status")
	for _, want := range [][]string{
		{"node-a", "bpfapplication/team-a/flows", "1", "Failed", "-", "-", "-", "-", "sha256:0123456789ab", "ImageNotFound:", "pull", "failed:"},
		{"node-a", "tracepointprogram/opens", "2", "Ready", "41", "1002", "-", "1200", "(1.5µs", "avg)", "sha256:0123456789ab", "-"},
		{"node-a", "uid/0ff-the-set", "3", "Unloading", "77"},
		{"node-b", "tracepointprogram/opens", "2", "Pending", "-", "-", "-", "-", "sha256:0123456789ab", "the", "node's", "agent", "has", "not"},
	} {
		if !hasRow(table, want...) {
			t.Errorf("status lacks the row %q:\n%s", want, table)
		}
	}

	var list struct{ Items []nodeProgram }
	decode(t, mustPlugin(t, kubeconfig, "status", "tracepointprogram/opens", "-o", "json"), &list)
	if len(list.Items) != 2 || list.Items[0].UID != opens.UID || list.Items[0].ProgramID != 41 ||
		len(list.Items[0].Links) != 1 || list.Items[0].Maps["counts"] != 40 || list.Items[0].RunStats.RunCount != 1200 {
		t.Errorf("status tracepointprogram/opens -o json = %+v", list.Items)
	}
	if out := mustPlugin(t, kubeconfig, "status", "tpp/opens"); !strings.Contains(out, "tracepointprogram/opens  Ready: Unknown  generation 1") ||
		!strings.Contains(out, "rollout: generation 2 released to Canaries, halted (it failed on a node); the other nodes run generation 1 (ControllerRevision tracepointprogram-opens-0a1b2c3d-1)") ||
		strings.Contains(out, "flows") {
		t.Errorf("status by short name:\n%s", out)
	}
	raw := mustPlugin(t, kubeconfig, "status", "bpfapplication/flows", "-n", "team-a", "-o", "yaml")
	if err := yaml.Unmarshal([]byte(raw), &list); err != nil || len(list.Items) != 1 || list.Items[0].UID != app.UID ||
		list.Items[0].State != bpfleetv1.StateFailed {
		t.Errorf("status of the application -o yaml (%v):\n%s", err, raw)
	}
	if out := mustPlugin(t, kubeconfig, "status", "-o", "wide"); !strings.Contains(out, "syscalls/sys_enter_openat=1002") {
		t.Errorf("status -o wide lacks the link's target:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"status", "tracepointprogram/absent"}, exitNotFound, `"absent" not found`},
		{[]string{"status", "bpfapplication/flows"}, exitNotFound, "not found"}, // another namespace
		{[]string{"status", "pods/web"}, exitUsage, "not a bpfleet program kind"},
		{[]string{"status", "opens"}, exitUsage, "want KIND/NAME"},
		{[]string{"status", "-o", "xml"}, exitUsage, "want table, wide, json, yaml"},
		{[]string{"image", "ls"}, exitUsage, `unknown command "image" for "kubectl bpfleet"`},
	} {
		kc := kubeconfig
		if tc.args[0] == "image" {
			kc = ""
		}
		if code, _, errs := plugin(t, kc, tc.args...); code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%s: exit %d, %s; want %d and %q", strings.Join(tc.args, " "), code, errs, tc.code, tc.msg)
		}
	}

	nodes := mustPlugin(t, kubeconfig, "nodes")
	for _, want := range [][]string{
		{"node-a", "Alive", "6.18.0-test", "true", "1/2", "1", "Tracepoint,XDP", "Kprobe"},
		{"node-b", "Silent", "-", "-", "0/1", "0", "-", "-"},
	} {
		if !hasRow(nodes, want...) {
			t.Errorf("nodes lacks the row %q:\n%s", want, nodes)
		}
	}
	var views struct{ Items []nodeView }
	decode(t, mustPlugin(t, kubeconfig, "nodes", "-o", "json"), &views)
	if len(views.Items) != 2 || views.Items[0].Capabilities.Unsupported("Kprobe") != "kernel lacks kprobes" ||
		!strings.Contains(views.Items[1].AgentMessage, "last renewed its Lease 10m") {
		t.Errorf("nodes -o json = %+v", views.Items)
	}

	completions := mustPlugin(t, kubeconfig, cobraComplete, "status", "tracepointprogram/")
	if !strings.Contains(completions, "tracepointprogram/opens") {
		t.Errorf("completing a program's name:\n%s", completions)
	}
	var out, errb bytes.Buffer
	if Main([]string{pluginCompleteName, "status", "trace"}, nil, &out, &errb) != 0 || !strings.Contains(out.String(), "tracepointprogram/") {
		t.Errorf("kubectl_complete-bpfleet status trace: %s %s", out.String(), errb.String())
	}
}

const cobraComplete = "__complete"

// hasRow reports whether a line of a table starts with fields.
func hasRow(table string, fields ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
			return true
		}
	}
	return false
}

func decode(t *testing.T, raw string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		t.Fatalf("%v:\n%s", err, raw)
	}
}

// writeCluster writes what an operator and two agents would: a program
// and an application, the nodes' sets, node-a's report and both agents'
// Leases (node-b's expired).
func writeCluster(t *testing.T, k8s client.Client) (*bpfleetv1.TracepointProgram, *bpfleetv1.BpfApplication) {
	t.Helper()
	ctx := context.Background()
	const image = "127.0.0.1:5000/bpf/counter@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	opens := &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "opens"},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: "127.0.0.1:5000/bpf/counter:v1"}}},
				ProgramName:   "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
	}
	app := &bpfleetv1.BpfApplication{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "flows"},
		Spec: bpfleetv1.BpfApplicationSpec{
			ProgramSource: bpfleetv1.ProgramSource{ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: "127.0.0.1:5000/team-a/flows:v1"}}},
			Programs: []bpfleetv1.BpfApplicationProgram{{Name: "tc_count", TCX: &bpfleetv1.PodTCXAttach{
				Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}}, Direction: bpfleetv1.TCXIngress,
				NetworkNamespaces: bpfleetv1.LocalPodSelector{Pods: bpfleetv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			}}},
		},
	}
	for _, obj := range []client.Object{
		opens, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, app,
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	opens.Status.Rollout = &bpfleetv1.RolloutStatus{Generation: 2, Released: bpfleetv1.ReleaseCanaries, Halted: true,
		StableGeneration: 1, StableRevision: "tracepointprogram-opens-0a1b2c3d-1"}
	if err := k8s.Status().Update(ctx, opens); err != nil {
		t.Fatal(err)
	}
	entry := bpfleetv1.NodeProgram{UID: opens.UID, Kind: "TracepointProgram", Name: "opens", Generation: 2, Image: image, ProgramName: "count_openat"}
	appEntry := bpfleetv1.NodeProgram{UID: app.UID, Kind: "BpfApplication", Namespace: "team-a", Name: "flows", Generation: 1, Image: image}
	now := metav1.Now()
	for _, obj := range []client.Object{
		&bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Spec: bpfleetv1.NodeProgramSetSpec{Programs: bpfleetv1.NodeProgramEntries{entry, appEntry}}},
		&bpfleetv1.NodeProgramSet{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}, Spec: bpfleetv1.NodeProgramSetSpec{Programs: bpfleetv1.NodeProgramEntries{entry}}},
		&bpfleetv1.NodeProgramReport{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Status: bpfleetv1.NodeProgramReportStatus{
			LastSync: &now,
			Capabilities: &bpfleetv1.NodeCapabilities{KernelRelease: "6.18.0-test", BTF: true, Hooks: []bpfleetv1.HookSupport{
				{Name: "Tracepoint", Supported: true}, {Name: "XDP", Supported: true}, {Name: "Kprobe", Reason: "kernel lacks kprobes"},
			}},
			Programs: bpfleetv1.NodeProgramStatusEntries{
				{UID: opens.UID, Generation: 2, State: bpfleetv1.StateReady, ProgramID: 41, PinPath: "/sys/fs/bpf/bpfleet/" + string(opens.UID) + "/2",
					Objects:  bpfleetv1.KernelObjects{Links: []bpfleetv1.LinkStatus{{Target: "syscalls/sys_enter_openat", LinkID: 1002}}, MapIDs: map[string]uint32{"counts": 40}},
					RunStats: &bpfleetv1.RunStats{RunCount: 1200, RunTimeNs: 1800000, ReadAt: now}},
				{UID: app.UID, Generation: 1, State: bpfleetv1.StateFailed, Reason: "ImageNotFound", Message: "pull failed: not found"},
				{UID: "0ff-the-set", Generation: 3, State: bpfleetv1.StateUnloading, ProgramID: 77},
			},
			Conditions: []metav1.Condition{{Type: bpfleetv1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Synced", LastTransitionTime: now}},
		}},
		agentLease("node-a", now.Time),
		agentLease("node-b", now.Add(-10*time.Minute)),
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	return opens, app
}

func agentLease(node string, renewed time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "bpfleet-system", Name: node, Labels: map[string]string{bpfleetv1.AgentLeaseLabel: node}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), LeaseDurationSeconds: ptr.To[int32](40),
			RenewTime: &metav1.MicroTime{Time: renewed}},
	}
}
