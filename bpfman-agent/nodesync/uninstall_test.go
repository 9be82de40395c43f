package nodesync

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/controlplane"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// Deleting the sets' CRD is how an agent knows bpfleet is being
// uninstalled, all at once, the operator and the agents with it: the
// agent unloads everything it runs at once, on the watch it already holds,
// and nothing stays in the kernel or under its pin root. (The test deletes
// a CRD of its own, named in Options.SetCRD, not the one other tests use.)
func TestSetCRDDeletedUnloadsEverything(t *testing.T) {
	testkernel.Require(t)
	plane := startPlane(t)
	ctx := context.Background()
	const crd = "sets.uninstall.bpfleet.test"
	if _, err := plane.CRD(ctx, "uninstall.bpfleet.test", "Set", "sets"); err != nil {
		t.Fatal(err)
	}
	mnt := testkernel.TempBPFFS(t)
	root := filepath.Join(mnt, "bpfleet")
	progs, err := programs.New(root, programs.MountBPFFSAt(mnt))
	if err != nil {
		t.Fatal(err)
	}
	ld, err := progs.Apply(ctx, programs.Program{UID: "uid-uninstall", Revision: programs.ParseRevision("r1"), Object: bpf.TracepointCounter,
		Programs: []programs.Attachment{{Name: "count_openat", Attach: map[string]attach.Spec{"main": attach.Tracepoint{Group: "syscalls", Name: "sys_enter_openat"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := ld.Programs["count_openat"].ID
	loaded := func() bool {
		p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
		if err == nil {
			_ = p.Close()
		}
		return err == nil
	}

	const node = "uninstall-node"
	mgr, err := NewManager(plane.Config, Scheme(), Options{
		NodeName: node, PinRoot: root, BPFFSMountAt: mnt, ImageDir: t.TempDir(),
		MetricsAddr: "0", LeaseNamespace: controlplane.Namespace, InProcess: true, SetCRD: crd,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx = startManager(t, mgr)
	waitReport(t, ctx, mgr.GetAPIReader(), node)
	if !loaded() {
		t.Fatalf("program %d unloaded before the CRD was deleted", id)
	}

	del := &unstructured.Unstructured{}
	del.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	del.SetName(crd)
	if err := mgr.GetClient().Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	var left []os.DirEntry
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		left, _ = os.ReadDir(root)
		return !loaded() && len(left) == 0, nil
	})
	if err != nil {
		t.Fatalf("after the CRD's deletion: program %d loaded %v, under the pin root %v", id, loaded(), left)
	}
}
