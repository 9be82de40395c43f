package csi

import (
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSanity runs the CSI conformance suite (kubernetes-csi/csi-test's
// csi-sanity) against the driver's Identity and Node services, on the
// real kernel: the argument checks, and the publish flows (publish,
// publish again, unpublish, the target removed, idempotence). Those flows
// make their volumes through a Controller service first; the driver has
// none (inline volumes only), so the suite talks to it through
// provisioner, a test-only Controller whose CreateVolume hands out the
// volume context the kubelet gives a pod's inline volume of the counter.
// The suite's Controller tests are for real Controllers and skipped.
func TestSanity(t *testing.T) {
	f := setup(t)
	f.load("r1", 0)
	socket := filepath.Join(t.TempDir(), "csi.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	csi.RegisterIdentityServer(srv, withController{f.d})
	csi.RegisterNodeServer(srv, f.d)
	csi.RegisterControllerServer(srv, provisioner{})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)

	cfg := sanity.NewTestConfig()
	cfg.Address = "unix://" + socket
	pod := filepath.Join(f.pods, sanityPodUID)
	cfg.TargetPath = filepath.Join(pod, "volumes", "kubernetes.io~csi", "sanity")
	cfg.StagingPath = filepath.Join(pod, "staging")
	cfg.IdempotentCount = 2
	if err := os.MkdirAll(filepath.Dir(cfg.TargetPath), 0o750); err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{"ginkgo.skip": "Controller Server", "ginkgo.no-color": "true"} {
		if err := flag.Set(name, value); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
	}
	sanity.Test(t, cfg)
}

// sanityPodUID is the pod the suite's volumes are published for.
const sanityPodUID = "uid-sanity"

// withController is the driver's Identity service, saying the test's
// connection also has a Controller service (provisioner).
type withController struct{ *Driver }

func (w withController) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{{
		Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: csi.PluginCapability_Service_CONTROLLER_SERVICE}},
	}}}, nil
}

// provisioner is the test's Controller service: each volume it creates
// is an inline volume of the counter's map counts, for a pod of
// sanityPodUID running as team/reader (which the fixture grants it).
type provisioner struct {
	csi.UnimplementedControllerServer
}

func (provisioner) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: []*csi.ControllerServiceCapability{{
		Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME}},
	}}}, nil
}

func (provisioner) CreateVolume(_ context.Context, r *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if r.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name missing")
	}
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId: "csi-" + r.GetName(), CapacityBytes: r.GetCapacityRange().GetRequiredBytes(),
		VolumeContext: map[string]string{
			attrEphemeral: "true", AttrProgram: "tracepointprogram/counter", AttrMaps: "counts",
			attrPodNamespace: "team", attrPodName: "sanity", attrPodUID: sanityPodUID, attrServiceAccount: "reader",
		},
	}}, nil
}

func (provisioner) DeleteVolume(context.Context, *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	return &csi.DeleteVolumeResponse{}, nil
}
