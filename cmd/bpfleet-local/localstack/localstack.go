// Package localstack runs the whole of bpfleet on one host with no cluster:
// a real kube-apiserver and etcd, a real OCI registry on loopback holding the
// example bytecode image, the operator, and one node agent loading into the
// host kernel. `make run` and the end-to-end tests use it.
//
// Stop deletes every program and waits for the agent to unload it before
// stopping anything, so nothing is left under the pin root.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/nodesync"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/controllers"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// ExampleName is the example the samples use: bpfleet/<name>:v1 on the
// local registry.
const ExampleName = "tracepoint-counter"

// Options configure a stack.
type Options struct {
	NodeName     string
	RegistryAddr string // "127.0.0.1:5000"; "127.0.0.1:0" picks a port
	PinRoot      string
	ImageDir     string
	StateDir     string
	OperatorAddr string // metrics; "0" disables
	AgentAddr    string // metrics; "0" disables
	// RegistryTimeout bounds the agent's wait for each registry answer
	// (0: the agent's default, 30 s).
	RegistryTimeout time.Duration
	// ExternalAgent starts no agent in this process: the caller runs
	// one (test/faults runs the agent's binary, to kill it).
	ExternalAgent bool
}

// Stack is a running local system.
type Stack struct {
	Plane    *controlplane.Plane
	Client   client.WithWatch
	Registry string // host:port of the registry
	Example  string // tag reference of the tracepoint example image
	Digest   string // its manifest digest
	// Images maps each example (bpf.Examples) to its tag reference.
	Images map[string]string

	opts         Options
	stopRegistry func()
	operator     *running
	agent        *running
}

// running is a manager started in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(m ctrl.Manager) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Start(ctx) }()
	return r
}

// stop stops the manager and waits for it; nil is a no-op.
func (r *running) stop() error {
	if r == nil {
		return nil
	}
	r.cancel()
	return <-r.done
}

// Start brings the stack up; on error, whatever started is stopped.
func Start(ctx context.Context, o Options) (*Stack, error) {
	s := &Stack{opts: o}
	if err := s.start(ctx); err != nil {
		return nil, errors.Join(err, s.stopParts())
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context) (err error) {
	if s.Plane, err = controlplane.Start(); err != nil {
		return err
	}
	if s.Client, err = client.NewWithWatch(s.Plane.Config, client.Options{Scheme: scheme.New()}); err != nil {
		return err
	}
	if err = s.startRegistry(ctx); err != nil {
		return err
	}
	if err = s.registerNode(ctx); err != nil {
		return err
	}
	return s.startManagers()
}

// startRegistry serves a registry and pushes the example images to it.
func (s *Stack) startRegistry(ctx context.Context) error {
	host, stop, err := ocitest.Start(s.opts.RegistryAddr, nil)
	if err != nil {
		return fmt.Errorf("registry on %s: %w", s.opts.RegistryAddr, err)
	}
	s.Registry, s.stopRegistry = host, stop
	s.Images = map[string]string{}
	for _, ex := range bpf.Examples {
		ref := host + "/bpfleet/" + ex.Name + ":v1"
		img, err := oci.BytecodeFromELF(ex.File, "", ex.Object)
		if err != nil {
			return err
		}
		digest, err := oci.Push(ctx, ref, img, nil)
		if err != nil {
			return err
		}
		s.Images[ex.Name] = ref
		if ex.Name == ExampleName {
			s.Example, s.Digest = ref, digest
		}
	}
	return nil
}

// registerNode creates the Node object a kubelet would have created.
func (s *Stack) registerNode(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   s.opts.NodeName,
		Labels: map[string]string{"kubernetes.io/hostname": s.opts.NodeName, "kubernetes.io/os": "linux"},
	}}
	if err := s.Client.Create(ctx, node); err != nil {
		return fmt.Errorf("register node %s: %w", s.opts.NodeName, err)
	}
	return nil
}

// startManagers runs the operator and, unless it is external, the agent
// in this process.
func (s *Stack) startManagers() error {
	// Programs run on this machine name Secrets in "default" too.
	op, err := controllers.NewManager(ownConnection(s.Plane.Config), scheme.New(), controllers.Options{
		MetricsAddr: s.opts.OperatorAddr, SecretNamespaces: []string{controlplane.Namespace, "default"},
	})
	if err != nil {
		return fmt.Errorf("operator: %w", err)
	}
	s.operator = start(op)
	if s.opts.ExternalAgent {
		return nil
	}
	return s.startAgent()
}

func (s *Stack) startAgent() error {
	agent, err := nodesync.NewManager(ownConnection(s.Plane.Config), nodesync.Scheme(), nodesync.Options{
		NodeName: s.opts.NodeName, PinRoot: s.opts.PinRoot, ImageDir: s.opts.ImageDir, StateDir: s.opts.StateDir,
		MetricsAddr: s.opts.AgentAddr, LeaseNamespace: controlplane.Namespace, InProcess: true,
		RegistryTimeout: s.opts.RegistryTimeout,
	})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	s.agent = start(agent)
	return nil
}

// ownConnection is cfg for a component that runs in its own process on a
// real cluster (the operator, an agent): with its own connections to the
// API server. client-go shares one transport, and so one HTTP/2
// connection, between configs that do not differ but in identity; the
// operator's, the agent's and the user's requests and watches then
// queued behind one another on it.
func ownConnection(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return cfg
}

// RestartAgent stops the node agent and starts a new one, as an agent
// upgrade or crash does; programs stay attached through their pins.
func (s *Stack) RestartAgent() error {
	err := s.agent.stop()
	s.agent = nil
	return errors.Join(err, s.startAgent())
}

// Stop deletes every program, waits until the agent unloaded them, then
// stops the managers, the registry and the control plane, and removes
// whatever the agent could not.
func (s *Stack) Stop(ctx context.Context) error {
	err := s.DeleteAllPrograms(ctx)
	return errors.Join(err, s.stopParts())
}

func (s *Stack) stopParts() error {
	errs := []error{s.agent.stop(), s.operator.stop()}
	s.agent, s.operator = nil, nil
	if s.opts.PinRoot != "" {
		errs = append(errs, prune(s.opts.PinRoot))
	}
	if s.stopRegistry != nil {
		s.stopRegistry()
	}
	if s.Plane != nil {
		errs = append(errs, s.Plane.Stop())
	}
	return errors.Join(errs...)
}

// prune removes whatever is left under the pin root, in case the agent
// could not unload something before it stopped.
func prune(root string) error {
	m, err := programs.New(root)
	if err != nil {
		return err
	}
	return m.Prune(nil)
}

// DeleteAllPrograms deletes the programs of every kind and waits until they
// are gone, which the finalizer allows only once the agent unloaded them.
func (s *Stack) DeleteAllPrograms(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, k := range controllers.Kinds {
		if err := s.deleteAll(ctx, k); err != nil {
			return fmt.Errorf("delete %s: %w", k.Name, err)
		}
	}
	for _, k := range controllers.Kinds {
		if err := s.waitEmpty(ctx, k.NewList()); err != nil {
			return fmt.Errorf("wait for %s to unload: %w", k.Name, err)
		}
	}
	return nil
}

// deleteAll deletes every program of kind k: at once for a
// cluster-scoped kind, one by one for a namespaced one (the API server
// deletes a collection within one namespace only).
func (s *Stack) deleteAll(ctx context.Context, k controllers.Kind) error {
	if !k.Namespaced {
		return s.Client.DeleteAllOf(ctx, k.New())
	}
	list := k.NewList()
	if err := s.Client.List(ctx, list); err != nil {
		return err
	}
	for _, p := range k.Items(list) {
		if err := client.IgnoreNotFound(s.Client.Delete(ctx, p)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) waitEmpty(ctx context.Context, list client.ObjectList) error {
	for {
		if err := s.Client.List(ctx, list); err != nil {
			return err
		}
		if meta.LenList(list) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
