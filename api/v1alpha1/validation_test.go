package v1alpha1_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

var (
	k8s   client.Client
	plane *controlplane.Plane
)

func TestMain(m *testing.M) {
	var err error
	plane, err = controlplane.Start()
	if err != nil {
		panic(err)
	}
	k8s, err = client.New(plane.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	_ = plane.Stop()
	os.Exit(code)
}

func goodProgram(name string) *bpfleetv1.TracepointProgram {
	return &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode:   bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: "127.0.0.1:5000/bpfleet/counter:v1"}},
					GlobalData: map[string]bpfleetv1.GlobalValue{"filter_pid": "42", "key": "0x0a000001", "on": "true"},
					MapAccess:  []bpfleetv1.MapAccessGrant{{Namespace: "team-a", ServiceAccount: "reader", Maps: []bpfleetv1.MapName{"counts"}}},
				},
				ProgramName: "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
	}
}

func TestAcceptsGoodManifests(t *testing.T) {
	ctx := context.Background()
	p := goodProgram("good-image")
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatalf("good manifest rejected: %v", err)
	}
	if p.Spec.ByteCode.Image.PullPolicy != bpfleetv1.PullIfNotPresent {
		t.Errorf("pullPolicy default = %q, want IfNotPresent", p.Spec.ByteCode.Image.PullPolicy)
	}
	if got := p.Spec.MapAccess[0].Access; got != bpfleetv1.MapRead {
		t.Errorf("mapAccess access default = %q, want Read", got)
	}
	q := goodProgram("good-path")
	q.Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: "/opt/bpf/counter.o"}
	if err := k8s.Create(ctx, q); err != nil {
		t.Fatalf("good path manifest rejected: %v", err)
	}
}

// What the agent resolves is accepted: library names, clean absolute
// paths, regexes that compile, an order naming another program (an
// application's program ordered before a TcxProgram too), globals
// at their size limits.
func TestAcceptsGoodAttachPoints(t *testing.T) {
	common := goodProgram("x").Spec.ProgramCommon
	common.GlobalData = map[string]bpfleetv1.GlobalValue{
		strings.Repeat("n", 256): "0x" + bpfleetv1.GlobalValue(strings.Repeat("ab", 128)),
	}
	names := bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}}
	objs := []client.Object{
		&bpfleetv1.XdpProgram{Spec: bpfleetv1.XdpProgramSpec{ProgramCommon: common,
			XDP: bpfleetv1.XDPAttach{Interfaces: bpfleetv1.InterfaceSelector{Regex: `^(veth|eth)[0-9]+$`}}}},
		&bpfleetv1.TcxProgram{Spec: bpfleetv1.TcxProgramSpec{ProgramCommon: common,
			TCX: bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress, Order: &bpfleetv1.TCXOrder{Before: "other"}}}},
		&bpfleetv1.CgroupProgram{Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Path: "/", Type: "egress", Order: &bpfleetv1.CgroupOrder{After: "other"}}}},
		application(
			bpfleetv1.ApplicationProgram{Name: "a", TCX: &bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress, Order: &bpfleetv1.TCXOrder{Before: "other"}}},
			bpfleetv1.ApplicationProgram{Name: "b", TCX: &bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress, Order: &bpfleetv1.TCXOrder{First: true}}},
			bpfleetv1.ApplicationProgram{Name: "c", Cgroup: &bpfleetv1.CgroupAttach{Path: "/", Type: "egress", Order: &bpfleetv1.CgroupOrder{After: "other"}}}),
	}
	web := bpfleetv1.PodSelector{Pods: bpfleetv1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Namespaces: &bpfleetv1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "team-a"}}}
	objs = append(objs,
		&bpfleetv1.XdpProgram{Spec: bpfleetv1.XdpProgramSpec{ProgramCommon: common,
			XDP: bpfleetv1.XDPAttach{Interfaces: names, NetworkNamespaces: &web}}},
		&bpfleetv1.TcxProgram{Spec: bpfleetv1.TcxProgramSpec{ProgramCommon: common,
			TCX: bpfleetv1.TCXAttach{Interfaces: bpfleetv1.InterfaceSelector{Primary: true}, Direction: bpfleetv1.TCXEgress,
				NetworkNamespaces: &bpfleetv1.PodSelector{Pods: bpfleetv1.LabelSelector{}}}}},
		&bpfleetv1.CgroupProgram{Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Cgroups: &web, Type: "egress"}}},
		&bpfleetv1.UprobeProgram{Spec: bpfleetv1.UprobeProgramSpec{ProgramCommon: common,
			Uprobe: bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "libssl.so.3", Function: "SSL_write"}, Containers: &bpfleetv1.ContainerSelector{PodSelector: web, ContainerNames: []bpfleetv1.ContainerName{"app"}}}}},
		application(bpfleetv1.ApplicationProgram{Name: "a", Cgroup: &bpfleetv1.CgroupAttach{Cgroups: &web, Type: "connect4"}}))
	for _, target := range []string{"libc", "libssl.so.3", "libstdc++", "/usr/bin/bash", "/"} {
		objs = append(objs, &bpfleetv1.UprobeProgram{Spec: bpfleetv1.UprobeProgramSpec{ProgramCommon: common,
			Uprobe: bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: target, Function: "main"}}}})
	}
	for i, obj := range objs {
		obj.SetName(fmt.Sprintf("good-attach-%d", i))
		if err := k8s.Create(context.Background(), obj, client.DryRunAll); err != nil {
			t.Errorf("%T %d rejected: %v", obj, i, err)
		}
	}
}

func TestRejectsBadManifests(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*bpfleetv1.TracepointProgram)
		want   string
	}{
		{"empty program name", func(p *bpfleetv1.TracepointProgram) { p.Spec.ProgramName = "" }, "spec.programName"},
		{"program name not an identifier", func(p *bpfleetv1.TracepointProgram) { p.Spec.ProgramName = "../x" }, "spec.programName"},
		{"both image and path", func(p *bpfleetv1.TracepointProgram) { p.Spec.ByteCode.Path = "/x.o" }, "exactly one of byteCode.image or byteCode.path"},
		{"neither image nor path", func(p *bpfleetv1.TracepointProgram) { p.Spec.ByteCode.Image = nil }, "exactly one of byteCode.image or byteCode.path"},
		{"relative path", func(p *bpfleetv1.TracepointProgram) {
			p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: "x.o"}
		}, "spec.byteCode.path"},
		{"path with ..", func(p *bpfleetv1.TracepointProgram) {
			p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: "/opt/../etc/x.o"}
		}, "must not contain '..'"},
		{"path under /dev", func(p *bpfleetv1.TracepointProgram) {
			p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: "/dev/watchdog"}
		}, "must not be under /proc, /sys or /dev"},
		{"path under /proc", func(p *bpfleetv1.TracepointProgram) {
			p.Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: "/proc/1/root/x.o"}
		}, "must not be under /proc, /sys or /dev"},
		{"bad pull policy", func(p *bpfleetv1.TracepointProgram) { p.Spec.ByteCode.Image.PullPolicy = "Sometimes" }, "pullPolicy"},
		{"bad image ref", func(p *bpfleetv1.TracepointProgram) { p.Spec.ByteCode.Image.Ref = "UPPER CASE/ref" }, "spec.byteCode.image.ref"},
		{"tracepoint without group", func(p *bpfleetv1.TracepointProgram) { p.Spec.Tracepoint.Name = "sys_enter_openat" }, `tracepoint.name must be "group/event"`},
		{"tracepoint with traversal", func(p *bpfleetv1.TracepointProgram) { p.Spec.Tracepoint.Name = "../../etc" }, `tracepoint.name must be "group/event"`},
		{"global value not a number", func(p *bpfleetv1.TracepointProgram) { p.Spec.GlobalData["filter_pid"] = "forty-two" }, "globalData values must be"},
		{"global hex of odd length", func(p *bpfleetv1.TracepointProgram) { p.Spec.GlobalData["key"] = "0xabc" }, "globalData values must be"},
		{"global name not an identifier", func(p *bpfleetv1.TracepointProgram) { p.Spec.GlobalData["1bad-name"] = "1" }, "globalData keys must be C identifiers"},
		{"global name of 100 KB", func(p *bpfleetv1.TracepointProgram) { p.Spec.GlobalData[strings.Repeat("x", 100<<10)] = "1" }, "globalData names must be at most 256 characters"},
		{"global value too long", func(p *bpfleetv1.TracepointProgram) {
			p.Spec.GlobalData["key"] = bpfleetv1.GlobalValue("0x" + strings.Repeat("00", 129))
		}, "spec.globalData.key"},
		{"map access naming a path", func(p *bpfleetv1.TracepointProgram) { p.Spec.MapAccess[0].Maps = []bpfleetv1.MapName{"../x"} }, "spec.mapAccess[0].maps[0]"},
		{"map access granting no map", func(p *bpfleetv1.TracepointProgram) { p.Spec.MapAccess[0].Maps = nil }, "spec.mapAccess[0].maps"},
		{"map access of another kind", func(p *bpfleetv1.TracepointProgram) { p.Spec.MapAccess[0].Access = "Write" }, "spec.mapAccess[0].access"},
		{"map access to a bad namespace", func(p *bpfleetv1.TracepointProgram) { p.Spec.MapAccess[0].Namespace = "Team_A" }, "spec.mapAccess[0].namespace"},
		{"too many globals", func(p *bpfleetv1.TracepointProgram) {
			for i := range 65 {
				p.Spec.GlobalData[fmt.Sprintf("v%d", i)] = "1"
			}
		}, "spec.globalData"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := goodProgram("bad-" + string(rune('a'+i)))
			tc.mutate(p)
			err := k8s.Create(context.Background(), p)
			if err == nil {
				t.Fatalf("manifest accepted, want rejection mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("rejection %q does not mention %q", err, tc.want)
			}
		})
	}
}

// Every sample manifest under config/samples is accepted as it stands.
func TestSamplesAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../config/samples/*.yaml")
	more, _ := filepath.Glob("../../config/samples/*/*.yaml")
	for _, f := range append(files, more...) {
		if filepath.Base(f) == "kustomization.yaml" || filepath.Base(filepath.Dir(f)) == "gitops" {
			continue // gitops/ holds Argo CD and Flux objects, whose CRDs this API server lacks
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); err != nil {
				break
			}
			if err := dryRunApply(&u); err != nil {
				t.Errorf("%s: %s %s rejected: %v", f, u.GetKind(), u.GetName(), err)
			}
		}
	}
}

// dryRunApply checks u as the API server would take it: a namespace
// made for real (a sample's objects may live in it), anything else in a
// dry run, as an update where it exists (the cluster's one
// BpfApplicationPolicy).
func dryRunApply(u *unstructured.Unstructured) error {
	ctx := context.Background()
	if u.GetKind() == "Namespace" {
		return client.IgnoreAlreadyExists(k8s.Create(ctx, u))
	}
	err := k8s.Create(ctx, u, client.DryRunAll)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	var have unstructured.Unstructured
	have.SetGroupVersionKind(u.GroupVersionKind())
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(u), &have); err != nil {
		return err
	}
	u.SetResourceVersion(have.GetResourceVersion())
	return k8s.Update(ctx, u, client.DryRunAll)
}

func TestRejectsBadAttachPoints(t *testing.T) {
	common := goodProgram("x").Spec.ProgramCommon
	names := bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}}
	cases := []struct {
		name string
		obj  client.Object
		want string
	}{
		{"xdp without interfaces", &bpfleetv1.XdpProgram{Spec: bpfleetv1.XdpProgramSpec{ProgramCommon: common}},
			"set exactly one of interfaces.names, interfaces.regex or interfaces.primary"},
		{"xdp with names and regex", &bpfleetv1.XdpProgram{Spec: bpfleetv1.XdpProgramSpec{ProgramCommon: common,
			XDP: bpfleetv1.XDPAttach{Interfaces: bpfleetv1.InterfaceSelector{Names: names.Names, Regex: "^veth"}}}},
			"set exactly one of interfaces.names"},
		{"xdp bad mode", &bpfleetv1.XdpProgram{Spec: bpfleetv1.XdpProgramSpec{ProgramCommon: common,
			XDP: bpfleetv1.XDPAttach{Interfaces: names, Mode: "turbo"}}}, "spec.xdp.mode"},
		{"xdp bad interface name", &bpfleetv1.XdpProgram{Spec: bpfleetv1.XdpProgramSpec{ProgramCommon: common,
			XDP: bpfleetv1.XDPAttach{Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"../eth0"}}}}}, "spec.xdp.interfaces.names"},
		{"tcx two orders", &bpfleetv1.TcxProgram{Spec: bpfleetv1.TcxProgramSpec{ProgramCommon: common,
			TCX: bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress, Order: &bpfleetv1.TCXOrder{First: true, After: "a"}}}},
			"set exactly one of order.first"},
		{"tcx no direction", &bpfleetv1.TcxProgram{Spec: bpfleetv1.TcxProgramSpec{ProgramCommon: common,
			TCX: bpfleetv1.TCXAttach{Interfaces: names}}}, "spec.tcx.direction"},
		{"uprobe without function or offset", &bpfleetv1.UprobeProgram{Spec: bpfleetv1.UprobeProgramSpec{ProgramCommon: common,
			Uprobe: bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "/usr/bin/bash"}}}}, "set uprobe.function, uprobe.offset, or both"},
		{"xdp regex that does not compile", &bpfleetv1.XdpProgram{Spec: bpfleetv1.XdpProgramSpec{ProgramCommon: common,
			XDP: bpfleetv1.XDPAttach{Interfaces: bpfleetv1.InterfaceSelector{Regex: "^(veth"}}}},
			"interfaces.regex must be a valid regular expression"},
		{"tcx regex that does not compile", &bpfleetv1.TcxProgram{Spec: bpfleetv1.TcxProgramSpec{ProgramCommon: common,
			TCX: bpfleetv1.TCXAttach{Interfaces: bpfleetv1.InterfaceSelector{Regex: "eth[0-"}, Direction: bpfleetv1.TCXIngress}}},
			"missing closing ]"},
		{"tcx before itself", &bpfleetv1.TcxProgram{ObjectMeta: metav1.ObjectMeta{Name: "tcx-self"}, Spec: bpfleetv1.TcxProgramSpec{ProgramCommon: common,
			TCX: bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress, Order: &bpfleetv1.TCXOrder{Before: "tcx-self"}}}},
			"tcx.order must name another TcxProgram, not this one"},
		{"tcx after itself", &bpfleetv1.TcxProgram{ObjectMeta: metav1.ObjectMeta{Name: "tcx-self-after"}, Spec: bpfleetv1.TcxProgramSpec{ProgramCommon: common,
			TCX: bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXEgress, Order: &bpfleetv1.TCXOrder{After: "tcx-self-after"}}}},
			"tcx.order must name another TcxProgram, not this one"},
		{"cgroup after itself", &bpfleetv1.CgroupProgram{ObjectMeta: metav1.ObjectMeta{Name: "cg-self"}, Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Path: "/", Type: "egress", Order: &bpfleetv1.CgroupOrder{After: "cg-self"}}}},
			"cgroup.order must name another CgroupProgram, not this one"},
		{"uprobe relative target ./", &bpfleetv1.UprobeProgram{Spec: bpfleetv1.UprobeProgramSpec{ProgramCommon: common,
			Uprobe: bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "./bin", Function: "main"}}}}, "uprobe.target must be an absolute path"},
		{"uprobe relative target dir/file", &bpfleetv1.UprobeProgram{Spec: bpfleetv1.UprobeProgramSpec{ProgramCommon: common,
			Uprobe: bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "bin/x", Function: "main"}}}}, "uprobe.target must be an absolute path"},
		{"uprobe unclean absolute target", &bpfleetv1.UprobeProgram{Spec: bpfleetv1.UprobeProgramSpec{ProgramCommon: common,
			Uprobe: bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "/usr//bin/./bash", Function: "main"}}}}, "uprobe.target must be a clean path"},
		{"uprobe target traversal", &bpfleetv1.UprobeProgram{Spec: bpfleetv1.UprobeProgramSpec{ProgramCommon: common,
			Uprobe: bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "/proc/1/root/../../etc/x", Function: "main"}}}}, "must not contain '..'"},
		{"kprobe without function", &bpfleetv1.KprobeProgram{Spec: bpfleetv1.KprobeProgramSpec{ProgramCommon: common}}, "spec.kprobe.function"},
		{"fentry bad function", &bpfleetv1.FentryProgram{Spec: bpfleetv1.FentryProgramSpec{ProgramCommon: common,
			Fentry: bpfleetv1.FentryAttach{Function: "do sys"}}}, "spec.fentry.function"},
		{"lsm without hook", &bpfleetv1.LsmProgram{Spec: bpfleetv1.LsmProgramSpec{ProgramCommon: common}}, "spec.lsm.hook"},
		{"lsm hook path", &bpfleetv1.LsmProgram{Spec: bpfleetv1.LsmProgramSpec{ProgramCommon: common,
			LSM: bpfleetv1.LsmAttach{Hook: "../file_open"}}}, "spec.lsm.hook"},
		{"cgroup relative path", &bpfleetv1.CgroupProgram{Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Path: "kubepods.slice", Type: "egress"}}}, "cgroup.path must start with '/'"},
		{"cgroup path traversal", &bpfleetv1.CgroupProgram{Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Path: "/a/../../etc", Type: "egress"}}}, "must not contain '.' or '..' elements"},
		{"cgroup unclean path", &bpfleetv1.CgroupProgram{Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Path: "/kubepods.slice//x/", Type: "egress"}}}, "cgroup.path must be clean"},
		{"cgroup two orders", &bpfleetv1.CgroupProgram{Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Path: "/", Type: "egress", Order: &bpfleetv1.CgroupOrder{First: true, Before: "a"}}}},
			"set exactly one of order.first"},
		{"cgroup bad type", &bpfleetv1.CgroupProgram{Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Path: "/", Type: "teleport"}}}, "spec.cgroup.type"},
		{"cgroup path and pods", &bpfleetv1.CgroupProgram{Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Path: "/", Cgroups: &bpfleetv1.PodSelector{}, Type: "egress"}}},
			"set exactly one of cgroup.path (a cgroup of the node) or cgroup.cgroups"},
		{"cgroup neither path nor pods", &bpfleetv1.CgroupProgram{Spec: bpfleetv1.CgroupProgramSpec{ProgramCommon: common,
			Cgroup: bpfleetv1.CgroupAttach{Type: "egress"}}}, "set exactly one of cgroup.path"},
		{"uprobe pid and containers", &bpfleetv1.UprobeProgram{Spec: bpfleetv1.UprobeProgramSpec{ProgramCommon: common,
			Uprobe: bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "/usr/bin/app", Function: "main"}, PID: 42, Containers: &bpfleetv1.ContainerSelector{}}}},
			"set uprobe.pid or uprobe.containers, not both"},
		{"uprobe bad container name", &bpfleetv1.UprobeProgram{Spec: bpfleetv1.UprobeProgramSpec{ProgramCommon: common,
			Uprobe: bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "/usr/bin/app", Function: "main"}, Containers: &bpfleetv1.ContainerSelector{
				ContainerNames: []bpfleetv1.ContainerName{"App_1"}}}}}, "spec.uprobe.containers.containerNames[0]"},
		{"pod selector with a bad operator", &bpfleetv1.TcxProgram{Spec: bpfleetv1.TcxProgramSpec{ProgramCommon: common,
			TCX: bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress, NetworkNamespaces: &bpfleetv1.PodSelector{
				Pods: bpfleetv1.LabelSelector{MatchExpressions: []bpfleetv1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}}}}},
			"operator"},
		{"application program without a hook", application(bpfleetv1.ApplicationProgram{Name: "a"}),
			"set exactly one hook per program"},
		{"application program with two hooks", application(bpfleetv1.ApplicationProgram{Name: "a",
			Tracepoint: &bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}, Kprobe: &bpfleetv1.KprobeAttach{Function: "f"}}),
			"set exactly one hook per program"},
		{"application program twice", application(
			bpfleetv1.ApplicationProgram{Name: "a", Kprobe: &bpfleetv1.KprobeAttach{Function: "f"}},
			bpfleetv1.ApplicationProgram{Name: "a", Kprobe: &bpfleetv1.KprobeAttach{Function: "g"}}), "Duplicate value"},
		{"application without programs", application(), "spec.programs"},
		{"application program not a C name", application(bpfleetv1.ApplicationProgram{Name: "a-b",
			Kprobe: &bpfleetv1.KprobeAttach{Function: "f"}}), "spec.programs[0].name"},
		{"application program ordered before another of its own", application(
			bpfleetv1.ApplicationProgram{Name: "a", TCX: &bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress, Order: &bpfleetv1.TCXOrder{Before: "b"}}},
			bpfleetv1.ApplicationProgram{Name: "b", TCX: &bpfleetv1.TCXAttach{Interfaces: names, Direction: bpfleetv1.TCXIngress}}),
			"tcx.order.before or tcx.order.after names one of this application's own programs"},
		{"application cgroup program ordered after itself", application(
			bpfleetv1.ApplicationProgram{Name: "a", Cgroup: &bpfleetv1.CgroupAttach{Path: "/", Type: "egress", Order: &bpfleetv1.CgroupOrder{After: "a"}}}),
			"cgroup.order.before or cgroup.order.after names one of this application's own programs"},
		{"application program's hook invalid", application(bpfleetv1.ApplicationProgram{Name: "a",
			XDP: &bpfleetv1.XDPAttach{}}), "set exactly one of interfaces.names, interfaces.regex or interfaces.primary"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.obj.GetName() == "" {
				tc.obj.SetName(fmt.Sprintf("bad-attach-%d", i))
			}
			err := k8s.Create(context.Background(), tc.obj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a rejection mentioning %q", err, tc.want)
			}
		})
	}
}

// application is a ClusterBpfApplication of programs.
func application(programs ...bpfleetv1.ApplicationProgram) *bpfleetv1.ClusterBpfApplication {
	return &bpfleetv1.ClusterBpfApplication{Spec: bpfleetv1.ClusterBpfApplicationSpec{
		ProgramSource: goodProgram("x").Spec.ProgramSource, Programs: programs,
	}}
}

func TestMapPolicyValidation(t *testing.T) {
	size := int32(1)
	good := func() *bpfleetv1.MapPolicy {
		return &bpfleetv1.MapPolicy{Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "XdpProgram", Name: "filter"}}},
			MapName:  "blocklist",
		}}
	}
	ok := good()
	ok.Name = "mp-good"
	if err := k8s.Create(context.Background(), ok); err != nil {
		t.Fatalf("good policy rejected: %v", err)
	}
	if ok.Spec.Mode != bpfleetv1.MapMerge || ok.Spec.FillWarningPercent != 70 {
		t.Errorf("defaults: mode %q fillWarningPercent %d, want merge and 70", ok.Spec.Mode, ok.Spec.FillWarningPercent)
	}
	entry := bpfleetv1.MapEntry{Key: apiextensionsv1.JSON{Raw: []byte(`1`)}, Value: apiextensionsv1.JSON{Raw: []byte(`1`)}}
	cases := []struct {
		name   string
		mutate func(*bpfleetv1.MapPolicy)
		want   string
	}{
		{"no programs", func(mp *bpfleetv1.MapPolicy) { mp.Spec.Programs = bpfleetv1.ProgramSelector{} }, "set exactly one of programs.refs or programs.selector"},
		{"unknown kind", func(mp *bpfleetv1.MapPolicy) { mp.Spec.Programs.Refs[0].Kind = "Pod" }, "spec.programs.refs[0].kind"},
		{"bad map name", func(mp *bpfleetv1.MapPolicy) { mp.Spec.MapName = "../maps" }, "spec.mapName"},
		{"more entries than maxEntries", func(mp *bpfleetv1.MapPolicy) {
			mp.Spec.MaxEntries = &size
			mp.Spec.Entries = []bpfleetv1.MapEntry{entry, entry}
		}, "more entries than maxEntries"},
		{"bad mode", func(mp *bpfleetv1.MapPolicy) { mp.Spec.Mode = "replace" }, "spec.mode"},
		{"entries and entriesFrom", func(mp *bpfleetv1.MapPolicy) {
			mp.Spec.Entries = []bpfleetv1.MapEntry{entry}
			mp.Spec.EntriesFrom = &bpfleetv1.EntriesSource{Image: bpfleetv1.ImageSource{Ref: "registry.example.com/lists/blocked:v1"}}
		}, "set entries or entriesFrom, not both"},
		{"bad entriesFrom ref", func(mp *bpfleetv1.MapPolicy) {
			mp.Spec.EntriesFrom = &bpfleetv1.EntriesSource{Image: bpfleetv1.ImageSource{Ref: "registry.example.com/lists/blocked:v1; rm -rf"}}
		}, "spec.entriesFrom.image.ref"},
		{"bad export type", func(mp *bpfleetv1.MapPolicy) { mp.Spec.Export = &bpfleetv1.MapExport{Type: "histogram"} }, "spec.export.type"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mp := good()
			mp.Name = fmt.Sprintf("mp-bad-%d", i)
			tc.mutate(mp)
			err := k8s.Create(context.Background(), mp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a rejection mentioning %q", err, tc.want)
			}
		})
	}
}
