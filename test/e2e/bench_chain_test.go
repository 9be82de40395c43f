package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bpfleet/bpfleet/cmd/bpfleet-local/localstack"
)

// chainHops is how many writes a lone change makes in a row: the user's,
// the operator's set, the agent's report and the operator's status, each
// made on seeing the one before through a watch.
const chainHops = 4

// chainKind is an object a write chain writes: its kind, and the field
// of it holding the chain's number.
type chainKind struct {
	gvk   schema.GroupVersionKind
	field []string
}

var (
	chainConfigMap = chainKind{gvk: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, field: []string{"data", "n"}}
	chainCRD       = chainKind{gvk: schema.GroupVersionKind{Group: "bench.bpfleet.io", Version: "v1", Kind: "ChainLink"}, field: []string{"spec", "n"}}
)

// BenchmarkWriteChain measures the floor of a lone change's path through
// the API server: chainHops small writes in a row, each made by a relay on
// seeing the one before through its watch, until the user's watch sees
// the last (as a change's four writes are, with no work between them). It
// chains ConfigMaps (the cheapest object the API server stores) and
// objects of a minimal custom resource (what every write of bpfleet's
// path is), and reports each chain (chain-ms/op) beside one write's round
// trip (write-ms), medians of the same run. BenchmarkCreateToReady and
// BenchmarkUpdateToLive spend the rest of their time over raw in their
// objects' cost over the minimal one and the operator's and agent's work.
func BenchmarkWriteChain(b *testing.B) {
	s := startStack(b)
	installChainCRD(b, s)
	for name, kind := range map[string]chainKind{"configmap": chainConfigMap, "crd": chainCRD} {
		b.Run(name, func(b *testing.B) { runChain(b, s.Client, kind) })
	}
}

// runChain runs b.N changes through a chain of kind.
func runChain(b *testing.B, c client.WithWatch, kind chainKind) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	names := make([]string, chainHops)
	for i := range names {
		names[i] = fmt.Sprintf("bench-chain-%d", i)
		o := kind.object(names[i])
		if err := unstructured.SetNestedField(o.Object, "0", kind.field...); err != nil {
			b.Fatal(err)
		}
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	for i := range chainHops - 1 {
		w := kind.watch(b, c, names[i])
		defer w.Stop()
		go kind.relay(ctx, c, w, names[i+1])
	}
	last := kind.watch(b, c, names[chainHops-1])
	defer last.Stop()
	run := time.Now().UnixNano() // each run writes numbers of its own: a write of the value held changes nothing
	var chain, write []time.Duration
	b.ResetTimer()
	for i := range b.N {
		n := fmt.Sprintf("%d-%d", run, i)
		start := time.Now()
		if err := kind.set(c, names[0], n); err != nil {
			b.Fatal(err)
		}
		write = append(write, time.Since(start))
		for ev := range last.ResultChan() {
			if kind.n(ev) == n {
				break
			}
		}
		chain = append(chain, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(median(chain), "chain-ms/op")
	b.ReportMetric(median(write), "write-ms")
}

// object is an empty object of kind called name, in default.
func (k chainKind) object(name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetGroupVersionKind(k.gvk)
	o.SetName(name)
	o.SetNamespace("default")
	return o
}

// watch watches object name of kind from now on; the caller stops it.
func (k chainKind) watch(b *testing.B, c client.WithWatch, name string) watch.Interface {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
	w, err := c.Watch(context.Background(), list, client.InNamespace("default"), client.MatchingFields{"metadata.name": name})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// n is the number an event's object holds, or "".
func (k chainKind) n(ev watch.Event) string {
	o, ok := ev.Object.(*unstructured.Unstructured)
	if !ok || ev.Type != watch.Modified {
		return ""
	}
	n, _, _ := unstructured.NestedString(o.Object, k.field...)
	return n
}

// relay writes each number that w shows into object next, until ctx ends.
func (k chainKind) relay(ctx context.Context, c client.Client, w watch.Interface, next string) {
	for ev := range w.ResultChan() {
		if n := k.n(ev); n != "" && ctx.Err() == nil {
			_ = k.set(c, next, n)
		}
	}
}

// set writes n into object name by a merge patch.
func (k chainKind) set(c client.Client, name, n string) error {
	patch := fmt.Appendf(nil, `{%q:{%q:%q}}`, k.field[0], k.field[1], n)
	return c.Patch(context.Background(), k.object(name), client.RawPatch(types.MergePatchType, patch))
}

// installChainCRD installs the minimal custom resource ChainLink (a
// string in its spec) and waits until it is served.
func installChainCRD(b *testing.B, s *localstack.Stack) {
	sch := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(sch); err != nil {
		b.Fatal(err)
	}
	crds, err := client.New(s.Plane.Config, client.Options{Scheme: sch})
	if err != nil {
		b.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "chainlinks.bench.bpfleet.io"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: chainCRD.gvk.Group, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "chainlinks", Singular: "chainlink", Kind: "ChainLink", ListKind: "ChainLinkList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: chainCRD.gvk.Version, Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"n": {Type: "string"}}},
					},
				}},
			}},
		},
	}
	if err := crds.Create(context.Background(), crd); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(chainCRD.gvk.GroupVersion().WithKind("ChainLinkList"))
		return s.Client.List(ctx, list, client.InNamespace("default")) == nil, nil
	})
	if err != nil {
		b.Fatalf("ChainLink never served: %v", err)
	}
}

// median is the median of ds, in milliseconds.
func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}
