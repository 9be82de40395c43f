package controlplane_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/scheme"
)

// The API server comes back on the same port after a stop, with what
// etcd held, to the clients made before.
func TestRestartAPIServer(t *testing.T) {
	p, err := controlplane.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	c, err := client.New(p.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: controlplane.Namespace}, &corev1.Namespace{}); err == nil {
		t.Fatal("the API server answers while stopped")
	}
	if err := p.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: controlplane.Namespace}, &corev1.Namespace{}); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}
