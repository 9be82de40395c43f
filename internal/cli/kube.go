package cli

import (
	"context"
	"fmt"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// kubeFlags are kubectl's flags that say which cluster, as whom, and the
// namespace (--kubeconfig, --context, -n, --server, --token, --as, …).
type kubeFlags struct {
	kubeconfig string
	overrides  clientcmd.ConfigOverrides
}

func (k *kubeFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
	clientcmd.BindOverrideFlags(&k.overrides, fs, clientcmd.RecommendedConfigOverrideFlags(""))
}

// cluster is a connection to the API server.
type cluster struct {
	client.Client
	// namespace is -n, else the kubeconfig context's, else "default".
	namespace string
	discovery *discovery.DiscoveryClient
}

// connect opens the cluster the flags and the kubeconfig name.
func (k *kubeFlags) connect() (*cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &k.overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, err
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &cluster{Client: c, namespace: ns, discovery: dc}, nil
}

// programKind resolves the KIND of a KIND/NAME argument as kubectl does
// (tracepointprogram, tracepointprograms, tpp, tracepointprograms.bpfleet.io)
// to a program kind.
func (c *cluster) programKind(ctx context.Context, resource string) (bpfleetv1.ProgramKind, error) {
	mapper := restmapper.NewShortcutExpanderWithContext(
		restmapper.NewDeferredDiscoveryRESTMapperWithContext(memory.NewMemCacheClientWithContext(c.discovery)), c.discovery, nil)
	gr := schema.ParseGroupResource(strings.ToLower(resource))
	gvk, err := mapper.KindForWithContext(ctx, gr.WithVersion(""))
	if err != nil {
		return bpfleetv1.ProgramKind{}, fmt.Errorf("%w: %s: %w", errUsage, resource, err)
	}
	k, ok := bpfleetv1.ProgramKindOf(gvk.Kind)
	if gvk.Group != bpfleetv1.GroupVersion.Group || !ok {
		return k, fmt.Errorf("%w: %s is %s, not a bpfleet program kind", errUsage, resource, gvk.GroupKind())
	}
	return k, nil
}

// newScheme holds the types status and nodes read: bpfleet's and Leases
// (not every built-in kind's, which would double the binary).
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(bpfleetv1.AddToScheme(s))
	utilruntime.Must(coordinationv1.AddToScheme(s))
	return s
}

// setsAndReports lists every node's NodeProgramSet and NodeProgramReport.
func (c *cluster) setsAndReports(ctx context.Context) (*bpfleetv1.NodeProgramSetList, *bpfleetv1.NodeProgramReportList, error) {
	var sets bpfleetv1.NodeProgramSetList
	if err := c.List(ctx, &sets); err != nil {
		return nil, nil, fmt.Errorf("list NodeProgramSets: %w", err)
	}
	var reports bpfleetv1.NodeProgramReportList
	if err := c.List(ctx, &reports); err != nil {
		return nil, nil, fmt.Errorf("list NodeProgramReports: %w", err)
	}
	return &sets, &reports, nil
}
