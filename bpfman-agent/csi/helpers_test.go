package csi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestMain(m *testing.M) { testkernel.Main(m) }

// node is a node's programs as the driver reads them: the real pins of a
// programs.Manager on a private bpffs, and the entries of its set.
type node struct {
	*programs.Manager
	entries []bpfleetv1.NodeProgram
}

func (n *node) Lookup(ref Ref) (bpfleetv1.NodeProgram, bool, error) {
	for _, np := range n.entries {
		if np.Kind == ref.Kind && np.Name == ref.Name {
			return np, true, nil
		}
	}
	return bpfleetv1.NodeProgram{}, false, nil
}

// fixture is a driver on a node whose set lists the tracepoint counter
// "counter" (uid "uid-counter"), granting team/reader its map counts and
// team/writer its map total read-write; tests load it (load) or not.
type fixture struct {
	t     testing.TB
	node  *node
	d     *Driver
	pods  string // the kubelet's pods directory
	state string
}

const counterUID = "uid-counter"

var counterRef = Ref{Kind: "TracepointProgram", Name: "counter"}

func setup(t testing.TB) *fixture {
	t.Helper()
	testkernel.Require(t)
	m, err := programs.New(filepath.Join(testkernel.TempBPFFS(t), "bpfleet"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, node: &node{Manager: m}, pods: t.TempDir(), state: t.TempDir()}
	f.node.entries = []bpfleetv1.NodeProgram{{UID: counterUID, Kind: counterRef.Kind, Name: counterRef.Name, MapAccess: []bpfleetv1.MapAccessGrant{
		{Namespace: "team", ServiceAccount: "reader", Maps: []bpfleetv1.MapName{"counts"}},
		{Namespace: "team", ServiceAccount: "writer", Maps: []bpfleetv1.MapName{"counts", "total"}, Access: bpfleetv1.MapReadWrite},
	}}}
	f.d = f.driver()
	t.Cleanup(f.unpublishAll)
	return f
}

// driver makes a driver on the fixture's node and state, as an agent
// (re)starting does.
func (f *fixture) driver() *Driver {
	return New(f.node, Options{NodeID: "node-a", StateDir: f.state, MountUnder: f.pods})
}

// load applies revision rev of the counter, counting this process's
// openat calls; maxEntries sizes its map counts (0: the object's).
func (f *fixture) load(rev string, maxEntries uint32) programs.Loaded {
	f.t.Helper()
	p := programs.Program{
		UID: counterUID, Revision: programs.ParseRevision(rev), Object: bpf.TracepointCounter,
		GlobalData: map[string]string{"filter_pid": strconv.Itoa(os.Getpid())},
		Programs: []programs.Attachment{{Name: "count_openat", LinkKey: programs.ParseRevision(rev).Links,
			Attach: map[string]attach.Spec{"main": attach.Tracepoint{Group: "syscalls", Name: "sys_enter_openat"}}}},
	}
	if maxEntries != 0 {
		p.Maps = map[string]programs.MapConfig{"counts": {MaxEntries: maxEntries}}
	}
	ld, err := f.node.Apply(context.Background(), p)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = f.node.Remove(counterUID) })
	return ld
}

// podVolume is a pod's volume: its ID and target path, as the kubelet
// makes them.
type podVolume struct{ id, pod, target string }

func (f *fixture) newVolume(pod string) podVolume {
	return podVolume{id: "csi-" + pod, pod: pod, target: filepath.Join(f.pods, "uid-"+pod, "volumes", "kubernetes.io~csi", "maps", "mount")}
}

func unpublishRequest(v podVolume) *csi.NodeUnpublishVolumeRequest {
	return &csi.NodeUnpublishVolumeRequest{VolumeId: v.id, TargetPath: v.target}
}

// publish publishes v for pod (running as service account sa in team)
// with attrs.
func (f *fixture) publish(v podVolume, sa string, readOnly bool, attrs map[string]string) error {
	r := publishRequest(v.target, readOnly, attrs)
	r.VolumeId = v.id
	r.VolumeContext[attrServiceAccount] = sa
	r.VolumeContext[attrPodName] = v.pod
	r.VolumeContext[attrPodUID] = "uid-" + v.pod
	_, err := f.d.NodePublishVolume(context.Background(), r)
	return err
}

func (f *fixture) mustPublish(v podVolume, sa string, readOnly bool, attrs map[string]string) {
	f.t.Helper()
	if err := f.publish(v, sa, readOnly, attrs); err != nil {
		f.t.Fatalf("publish %s: %v", v.id, err)
	}
}

func (f *fixture) unpublish(v podVolume) error {
	_, err := f.d.NodeUnpublishVolume(context.Background(), unpublishRequest(v))
	return err
}

func (f *fixture) unpublishAll() {
	for id, v := range f.d.vols {
		if err := f.unpublish(podVolume{id: id, pod: v.Pod.Name, target: v.Target}); err != nil {
			f.t.Errorf("unpublish %s: %v", id, err)
		}
	}
}

// counterAttrs names the counter, and maps if any.
func counterAttrs(maps string) map[string]string {
	a := map[string]string{AttrProgram: "tracepointprogram/counter"}
	if maps != "" {
		a[AttrMaps] = maps
	}
	return a
}

// wantCode fails unless err is a gRPC status of code.
func wantCode(t *testing.T, err error, code codes.Code) *status.Status {
	t.Helper()
	s, ok := status.FromError(err)
	if !ok || s.Code() != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return s
}

// openPinned opens the map pinned in a volume as a pod does.
func openPinned(t *testing.T, path string, readOnly bool) (*ebpf.Map, error) {
	t.Helper()
	m, err := ebpf.LoadPinnedMap(path, &ebpf.LoadPinOptions{ReadOnly: readOnly})
	if err == nil {
		t.Cleanup(func() { m.Close() })
	}
	return m, err
}

func mapIDOf(t *testing.T, m *ebpf.Map) uint32 {
	t.Helper()
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	return uint32(id)
}

// gone fails unless nothing is left at target.
func gone(t *testing.T, target string) {
	t.Helper()
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("target %s is still there (%v)", target, err)
	}
}

// metric is the value of the agent's metric name (with label result, if
// not ""), as a scrape reads it.
func metric(t *testing.T, name, result string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if result == "" {
				return m.GetGauge().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
