package v1alpha1_test

import (
	"context"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

var k8s client.Client

func TestMain(m *testing.M) {
	plane, err := controlplane.Start()
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
				ByteCode:    bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: "127.0.0.1:5000/bpfleet/counter:v1"}},
				ProgramName: "count_openat",
				GlobalData:  map[string]bpfleetv1.GlobalValue{"filter_pid": "42", "key": "0x0a000001", "on": "true"},
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
	q := goodProgram("good-path")
	q.Spec.ByteCode = bpfleetv1.ByteCodeSource{Path: "/opt/bpf/counter.o"}
	if err := k8s.Create(ctx, q); err != nil {
		t.Fatalf("good path manifest rejected: %v", err)
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
		{"bad pull policy", func(p *bpfleetv1.TracepointProgram) { p.Spec.ByteCode.Image.PullPolicy = "Sometimes" }, "pullPolicy"},
		{"bad image ref", func(p *bpfleetv1.TracepointProgram) { p.Spec.ByteCode.Image.Ref = "UPPER CASE/ref" }, "spec.byteCode.image.ref"},
		{"tracepoint without group", func(p *bpfleetv1.TracepointProgram) { p.Spec.Tracepoint.Name = "sys_enter_openat" }, `tracepoint.name must be "group/event"`},
		{"tracepoint with traversal", func(p *bpfleetv1.TracepointProgram) { p.Spec.Tracepoint.Name = "../../etc" }, `tracepoint.name must be "group/event"`},
		{"global value not a number", func(p *bpfleetv1.TracepointProgram) { p.Spec.GlobalData["filter_pid"] = "forty-two" }, "globalData values must be"},
		{"global hex of odd length", func(p *bpfleetv1.TracepointProgram) { p.Spec.GlobalData["key"] = "0xabc" }, "globalData values must be"},
		{"global name not an identifier", func(p *bpfleetv1.TracepointProgram) { p.Spec.GlobalData["1bad-name"] = "1" }, "globalData keys must be C identifiers"},
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
