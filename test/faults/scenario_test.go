package faults

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// scenario is what the kill-at-step cases drive a node through: a
// tracepoint counter (a hook that takes a new link per revision) and an
// XDP blocklist on a veth (a link updated in place), whose map a
// MapPolicy fills.
type scenario struct {
	h   *host
	c   client.Client
	tp  *bpfleetv1.TracepointProgram
	xdp *bpfleetv1.XdpProgram
	mp  *bpfleetv1.MapPolicy
	net veth
}

// veth is a case's veth pair: host in this namespace, peer in ns.
type veth struct{ host, ns, hostIP, peerIP string }

func newVeth(t *testing.T) veth {
	host, ns, hostIP, peerIP := testkernel.VethPair(t)
	return veth{host, ns, hostIP, peerIP}
}

// newScenario makes the objects (created by the first phase), and deletes
// whatever is left of them when the case ends, with an agent running.
func newScenario(t *testing.T, h *host) *scenario {
	sc := &scenario{h: h, c: h.s.stack.Client, net: newVeth(t)}
	sc.tp = tracepointCounter(h.s, "faults-counter")
	sc.xdp = xdpFilter(h.s, "faults-filter", sc.net.host)
	sc.mp = blocklist("faults-blocklist", sc.xdp.Name, sc.net.peerIP)
	t.Cleanup(func() { sc.h.deleteAll(sc.mp, sc.tp, sc.xdp) })
	return sc
}

// marker is filter_pid of the suite's tracepoint counters: it tells them
// from those of other processes on the machine.
var marker = uint32(os.Getpid())

func tracepointCounter(s *suite, name string) *bpfleetv1.TracepointProgram {
	return &bpfleetv1.TracepointProgram{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.TracepointProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: s.stack.Images["tracepoint-counter"]}},
					GlobalData: map[string]bpfleetv1.GlobalValue{
						"filter_pid": bpfleetv1.GlobalValue(strconv.Itoa(int(marker))), "increment": "1",
					},
				},
				ProgramName: "count_openat",
			},
			Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
		},
	}
}

func xdpProgram(s *suite, name, example, program, iface string) *bpfleetv1.XdpProgram {
	return &bpfleetv1.XdpProgram{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.XdpProgramSpec{
			ProgramCommon: bpfleetv1.ProgramCommon{
				ProgramSource: bpfleetv1.ProgramSource{
					ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: s.stack.Images[example]}},
				},
				ProgramName: program,
			},
			XDP: bpfleetv1.XDPAttach{
				Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(iface)}},
				Mode:       bpfleetv1.XDPGeneric,
			},
		},
	}
}

func xdpFilter(s *suite, name, iface string) *bpfleetv1.XdpProgram {
	return xdpProgram(s, name, "xdp-filter", "xdp_filter", iface)
}

// blocklist is a MapPolicy blocking addr in program's blocklist.
func blocklist(name, program, addr string) *bpfleetv1.MapPolicy {
	key := apiextensionsv1.JSON{Raw: fmt.Appendf(nil, `{"addr": %q}`, addr)}
	return &bpfleetv1.MapPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bpfleetv1.MapPolicySpec{
			Programs: bpfleetv1.ProgramSelector{Refs: []bpfleetv1.ProgramRef{{Kind: "XdpProgram", Name: program}}},
			MapName:  "blocklist",
			Entries:  []bpfleetv1.MapEntry{{Key: key, Value: apiextensionsv1.JSON{Raw: []byte(`{}`)}}},
			Mode:     bpfleetv1.MapExact,
		},
	}
}

// phase is one step of the scenario: a change through the API, and what
// the node runs once it is done.
type phase struct {
	name string
	do   func(*scenario)
	want want
}

// want is what the kernel must hold after a phase.
type want struct {
	running    bool   // both programs run
	policy     bool   // the MapPolicy is there
	blocked    bool   // the blocklist holds the peer's address
	maxEntries uint32 // of the blocklist
}

var phases = []phase{
	{"create", (*scenario).create, want{running: true, policy: true, blocked: true, maxEntries: 1024}},
	{"update", (*scenario).update, want{running: true, policy: true, blocked: true, maxEntries: 512}},
	{"unblock", (*scenario).unblock, want{running: true, policy: true, maxEntries: 512}},
	{"unpolicy", (*scenario).unpolicy, want{running: true, maxEntries: 1024}},
	{"delete", (*scenario).remove, want{}},
}

func (sc *scenario) create() {
	for _, o := range []client.Object{sc.tp, sc.xdp, sc.mp} {
		if err := sc.c.Create(context.Background(), o); err != nil {
			sc.h.t.Fatal(err)
		}
	}
}

// update makes a new revision of both programs: new globalData for the
// counter, a new size for the filter's blocklist.
func (sc *scenario) update() {
	sc.patch(sc.tp, func() { sc.tp.Spec.GlobalData["increment"] = "2" })
	sc.patch(sc.mp, func() { sc.mp.Spec.MaxEntries = ptr(int32(512)) })
}

// unblock empties the policy's entries: the address leaves the map.
func (sc *scenario) unblock() { sc.patch(sc.mp, func() { sc.mp.Spec.Entries = nil }) }

// unpolicy deletes the policy: the filter goes back to its own size.
func (sc *scenario) unpolicy() { sc.h.delete(sc.mp) }

func (sc *scenario) remove() { sc.h.delete(sc.tp, sc.xdp) }

func (sc *scenario) patch(o client.Object, change func()) {
	sc.h.t.Helper()
	base := o.DeepCopyObject().(client.Object)
	change()
	if err := sc.c.Patch(context.Background(), o, client.MergeFrom(base)); err != nil {
		sc.h.t.Fatal(err)
	}
}

// done reports whether the API says the phase is live on the node.
func (sc *scenario) done(ctx context.Context, w want) bool {
	if !w.running {
		return gone(ctx, sc.c, sc.tp) && gone(ctx, sc.c, sc.xdp)
	}
	if w.policy && !policyReady(ctx, sc.c, sc.mp) || !w.policy && !gone(ctx, sc.c, sc.mp) {
		return false
	}
	return programReady(ctx, sc.c, sc.tp) && programReady(ctx, sc.c, sc.xdp) && sc.sized(ctx, w.maxEntries)
}

// sized reports whether the node reports a blocklist of the size given.
// (A MapPolicy reads Ready at its generation before a new maxEntries is
// live: the program it resizes keeps its generation.)
func (sc *scenario) sized(ctx context.Context, maxEntries uint32) bool {
	var report bpfleetv1.NodeProgramReport
	if sc.c.Get(ctx, types.NamespacedName{Name: node}, &report) != nil {
		return false
	}
	for _, e := range report.Status.Programs {
		if e.UID == sc.xdp.UID {
			m, err := ebpf.NewMapFromID(ebpf.MapID(e.Objects.MapIDs["blocklist"]))
			if err != nil {
				return false
			}
			defer m.Close()
			return m.MaxEntries() == maxEntries
		}
	}
	return false
}

// programReady gets p and reports whether it is Ready at its generation.
func programReady(ctx context.Context, c client.Client, p bpfleetv1.Program) bool {
	if c.Get(ctx, client.ObjectKeyFromObject(p), p) != nil {
		return false
	}
	st := p.ProgramStatus()
	return st.ObservedGeneration == p.GetGeneration() && meta.IsStatusConditionTrue(st.Conditions, bpfleetv1.ConditionReady)
}

func policyReady(ctx context.Context, c client.Client, mp *bpfleetv1.MapPolicy) bool {
	if c.Get(ctx, client.ObjectKeyFromObject(mp), mp) != nil {
		return false
	}
	return mp.Status.ObservedGeneration == mp.Generation && mp.Status.Nodes.Ready == 1 &&
		meta.IsStatusConditionTrue(mp.Status.Conditions, bpfleetv1.ConditionReady)
}

func gone(ctx context.Context, c client.Client, o client.Object) bool {
	return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(o), o.DeepCopyObject().(client.Object)))
}

// delete deletes objects, without waiting.
func (h *host) delete(objs ...client.Object) {
	h.t.Helper()
	for _, o := range objs {
		if err := h.s.stack.Client.Delete(context.Background(), o); client.IgnoreNotFound(err) != nil {
			h.t.Fatalf("delete %s: %v", o.GetName(), err)
		}
	}
}

// deleteAll deletes objects and waits until they are gone, with an agent
// running (the finalizers wait for it): a case's cleanup.
func (h *host) deleteAll(objs ...client.Object) {
	if h.agent == nil || h.agent.exited() {
		h.start("")
	}
	c := h.s.stack.Client
	for _, o := range objs {
		if err := c.Delete(context.Background(), o); client.IgnoreNotFound(err) != nil {
			h.t.Errorf("delete %s: %v", o.GetName(), err)
		}
	}
	err := wait.PollUntilContextTimeout(context.Background(), 25*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			for _, o := range objs {
				if !gone(ctx, c, o) {
					return false, nil
				}
			}
			return true, nil
		})
	if err != nil {
		h.t.Errorf("%d objects were never all deleted", len(objs))
	}
}

// nodeEntry is what the agent reports for uid.
func nodeEntry(t *testing.T, c client.Client, uid types.UID) bpfleetv1.NodeProgramStatus {
	t.Helper()
	var report bpfleetv1.NodeProgramReport
	if err := c.Get(context.Background(), types.NamespacedName{Name: node}, &report); err != nil {
		t.Fatal(err)
	}
	for _, e := range report.Status.Programs {
		if e.UID == uid {
			return e
		}
	}
	t.Fatalf("node %s reports nothing for %s: %+v", node, uid, report.Status.Programs)
	return bpfleetv1.NodeProgramStatus{}
}

func ptr[T any](v T) *T { return &v }

// specDigest is the digest of the image the node's set asks for program
// uid (a report does not repeat it).
func specDigest(ctx context.Context, c client.Client, uid types.UID) string {
	var set bpfleetv1.NodeProgramSet
	if err := c.Get(ctx, types.NamespacedName{Name: node}, &set); err != nil {
		return ""
	}
	for _, np := range set.Spec.Programs {
		if np.UID == uid {
			return oci.PinnedDigest(np.Image)
		}
	}
	return ""
}
