package csi

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
)

// TestSanity runs the CSI conformance suite (kubernetes-csi/csi-test's
// csi-sanity) against the driver's socket: the Identity and Node
// services, the argument checks and the idempotence CSI asks for. Its
// publish flows need a Controller service, which the driver has not
// (inline volumes only): they are skipped, and the tests beside this one
// publish and unpublish for real.
func TestSanity(t *testing.T) {
	f := setup(t)
	socket := filepath.Join(t.TempDir(), "csi.sock")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.d.Serve(ctx, socket, "", "") }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the driver did not stop")
		}
	})

	cfg := sanity.NewTestConfig()
	cfg.Address = "unix://" + socket
	cfg.TargetPath = filepath.Join(f.pods, "sanity", "target")
	cfg.StagingPath = filepath.Join(f.pods, "sanity", "staging")
	cfg.IdempotentCount = 2
	if err := os.MkdirAll(filepath.Join(f.pods, "sanity"), 0o750); err != nil {
		t.Fatal(err)
	}
	// The Controller suites, and the Node flows that create a volume
	// through it first, are for drivers with a Controller service.
	for name, value := range map[string]string{
		"ginkgo.skip":     `Controller Server|NodeUnpublishVolume should remove target path`,
		"ginkgo.no-color": "true",
	} {
		if err := flag.Set(name, value); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
	}
	sanity.Test(t, cfg)
}
