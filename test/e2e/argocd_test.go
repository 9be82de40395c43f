package e2e

import (
	"context"
	"os"
	"testing"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Argo CD's health check for bpfleet kinds (config/argocd/argocd-cm.yaml),
// run by gopher-lua — the interpreter Argo CD embeds — on the status
// objects of a real run: Progressing while the node loads, Healthy once it
// runs, Degraded when the verifier refuses it.
func TestArgoCDHealth(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	p := counter("argo-healthy", s.Example, nil)
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	wantHealth(t, p, "Progressing")
	wantHealth(t, waitReady(t, s.Client, p.Name), "Healthy")

	bad := rejected(t, "argo-degraded")
	if err := s.Client.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, s.Client, bad.Name, "Stalled=True", func(p *bpfleetv1.TracepointProgram) bool {
		return meta.IsStatusConditionTrue(p.Status.Conditions, bpfleetv1.ConditionStalled)
	})
	if msg := wantHealth(t, got, "Degraded"); msg == "" {
		t.Error("Degraded without a message")
	}
	for _, o := range []client.Object{p, bad} {
		if err := s.Client.Delete(ctx, o); err != nil {
			t.Fatal(err)
		}
		waitGone(t, s.Client, o.GetName())
	}
}

// wantHealth runs the kind's health script from argocd-cm.yaml on obj and
// checks the status it returns; it returns the message.
func wantHealth(t *testing.T, obj client.Object, want string) string {
	t.Helper()
	raw, err := os.ReadFile("../../config/argocd/argocd-cm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	kind := "TracepointProgram" // typed objects carry no kind once fetched
	script, ok := cm.Data["resource.customizations.health.bpfleet.io_"+kind]
	if !ok {
		t.Fatalf("argocd-cm.yaml has no health check for %s", kind)
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, u))
	if err := L.DoString(script); err != nil {
		t.Fatalf("health script: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health script returned %v, want a table", L.Get(-1))
	}
	status, msg := hs.RawGetString("status").String(), hs.RawGetString("message").String()
	if status != want {
		t.Fatalf("%s: Argo CD health %s (%s), want %s", obj.GetName(), status, msg, want)
	}
	return msg
}

// toLua converts a JSON-like value as Argo CD hands objects to Lua.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	}
	return lua.LNil
}
