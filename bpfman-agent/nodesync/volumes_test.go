package nodesync

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/nodereport"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// An agent with its CSI driver: a pod the node's set grants publishes a
// volume of the program's map through the driver's socket, and the
// node's report lists the pod on the program's entry, until the volume
// is unpublished.
func TestMountsReported(t *testing.T) {
	testkernel.Require(t)
	plane := startPlane(t)
	mnt := testkernel.TempBPFFS(t)
	obj := filepath.Join(t.TempDir(), "counter.o")
	if err := os.WriteFile(obj, bpf.TracepointCounter, 0o644); err != nil {
		t.Fatal(err)
	}
	const node = "csi-node"
	socket, pods := filepath.Join(t.TempDir(), "csi.sock"), t.TempDir()
	mgr, err := NewManager(plane.Config, Scheme(), Options{
		NodeName: node, PinRoot: filepath.Join(mnt, "bpfleet"), BPFFSMountAt: mnt, ImageDir: t.TempDir(),
		MetricsAddr: "0", LeaseNamespace: controlplane.Namespace, InProcess: true,
		CSI: CSIOptions{Endpoint: socket, MountUnder: pods, StateDir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := startManager(t, mgr)
	waitReport(t, ctx, mgr.GetAPIReader(), node)

	set := &bpfleetv1.NodeProgramSet{}
	if err := mgr.GetAPIReader().Get(ctx, types.NamespacedName{Name: node}, set); err != nil {
		t.Fatal(err)
	}
	set.Spec.Scheduled = true
	set.Spec.Programs = bpfleetv1.NodeProgramEntries{{
		UID: "uid-csi", Kind: "TracepointProgram", Name: "counter", Generation: 1, Path: obj,
		ProgramName: "count_openat", Attach: tracepointAt("syscalls/sys_enter_sethostname"),
		MapAccess: []bpfleetv1.MapAccessGrant{{Namespace: "team", ServiceAccount: "reader", Maps: []bpfleetv1.MapName{"counts"}}},
	}}
	if err := mgr.GetClient().Update(ctx, set); err != nil {
		t.Fatal(err)
	}
	waitEntry(t, ctx, mgr, node, "the program Ready", func(st bpfleetv1.NodeProgramStatus) bool { return st.State == bpfleetv1.StateReady })

	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	nodeClient := csi.NewNodeClient(conn)
	target := filepath.Join(pods, "uid-p", "volumes", "kubernetes.io~csi", "maps", "mount")
	_, err = nodeClient.NodePublishVolume(ctx, &csi.NodePublishVolumeRequest{
		VolumeId: "csi-p", TargetPath: target, Readonly: true,
		VolumeCapability: &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}}},
		VolumeContext: map[string]string{
			"program": "tracepointprogram/counter", "csi.storage.k8s.io/ephemeral": "true",
			"csi.storage.k8s.io/pod.namespace": "team", "csi.storage.k8s.io/pod.name": "p",
			"csi.storage.k8s.io/pod.uid": "uid-p", "csi.storage.k8s.io/serviceAccount.name": "reader",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitEntry(t, ctx, mgr, node, "the mount reported", func(st bpfleetv1.NodeProgramStatus) bool {
		return st.MountCount == 1 && len(st.Mounts) == 1 && st.Mounts[0].Pod == "team/p" && st.Mounts[0].Access == bpfleetv1.MapRead
	})
	if _, err := nodeClient.NodeUnpublishVolume(ctx, &csi.NodeUnpublishVolumeRequest{VolumeId: "csi-p", TargetPath: target}); err != nil {
		t.Fatal(err)
	}
	waitEntry(t, ctx, mgr, node, "the mount gone from the report", func(st bpfleetv1.NodeProgramStatus) bool { return st.MountCount == 0 })
}

// waitEntry waits until the report's entry of uid-csi satisfies ok.
func waitEntry(t *testing.T, ctx context.Context, mgr ctrl.Manager, node, what string, ok func(bpfleetv1.NodeProgramStatus) bool) {
	t.Helper()
	waitEntryOf(t, ctx, mgr, node, "uid-csi", what, ok)
}

// waitEntryOf waits until the report's entry of uid satisfies ok.
func waitEntryOf(t *testing.T, ctx context.Context, mgr ctrl.Manager, node string, uid types.UID, what string, ok func(bpfleetv1.NodeProgramStatus) bool) {
	t.Helper()
	var last bpfleetv1.NodeProgramStatus
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		st, err := nodereport.Entry(ctx, mgr.GetAPIReader(), node, uid)
		last, lastErr = st, err
		return err == nil && ok(st), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: the report's entry is %+v (%v)", what, last, lastErr)
	}
}
