package corpus

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// Outcomes of a program of the corpus.
const (
	Ready       = "Ready"       // runs: Ready on the node, in the kernel
	Unsupported = "Unsupported" // this node lacks the hook; status says so
	Failed      = "Failed"      // the node failed it; status says why
	NoKind      = "NoKind"      // no program kind runs this type
)

// result is what happened to one program.
type result struct {
	Kind, Outcome, Reason, Message string
	// Traffic is what a Ready XDP program does to pings through its
	// interface: "passes" or "drops".
	Traffic string
}

// hooks is what a program can attach to on this machine.
type hooks struct {
	iface    string // a veth whose peer is in netns ns, a netns the test made
	ns, addr string // the netns, and iface's address to ping from it
}

// resource is the program kind a program of type typ runs as, attached
// where its ELF section says (fentry/func → func), or nil if no kind runs
// it. The types are those the image's labels give.
func (h hooks) resource(typ string, prog *ebpf.ProgramSpec, c bpfleetv1.ProgramCommon) bpfleetv1.Program {
	_, target, _ := strings.Cut(prog.SectionName, "/")
	switch typ {
	case "xdp":
		return &bpfleetv1.XdpProgram{Spec: bpfleetv1.XdpProgramSpec{ProgramCommon: c, XDP: bpfleetv1.XDPAttach{
			Interfaces: bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{bpfleetv1.InterfaceName(h.iface)}},
			Mode:       bpfleetv1.XDPGeneric}}}
	case "tracepoint":
		return &bpfleetv1.TracepointProgram{Spec: bpfleetv1.TracepointProgramSpec{ProgramCommon: c,
			Tracepoint: bpfleetv1.TracepointAttach{Name: target}}}
	case "kprobe":
		return &bpfleetv1.KprobeProgram{Spec: bpfleetv1.KprobeProgramSpec{ProgramCommon: c,
			Kprobe: bpfleetv1.KprobeAttach{Function: target}}}
	case "fentry":
		return &bpfleetv1.FentryProgram{Spec: bpfleetv1.FentryProgramSpec{ProgramCommon: c,
			Fentry: bpfleetv1.FentryAttach{Function: target}}}
	case "fexit":
		return &bpfleetv1.FexitProgram{Spec: bpfleetv1.FexitProgramSpec{ProgramCommon: c,
			Fexit: bpfleetv1.FentryAttach{Function: target}}}
	}
	return nil
}

// run applies p as a cluster user would, waits until its status settles
// (Ready, Unsupported or a node's failure), checks the kernel and the
// traffic for a Ready one, then deletes it and waits until it is gone.
func (h hooks) run(t *testing.T, c client.WithWatch, p bpfleetv1.Program) result {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, p); err != nil {
		t.Fatalf("create %s: %v", p.GetName(), err)
	}
	defer deleteAndWait(t, c, p)
	var r result
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true,
		func(ctx context.Context) (bool, error) {
			if err := c.Get(ctx, types.NamespacedName{Name: p.GetName()}, p); err != nil {
				return false, nil
			}
			var done bool
			r, done = settled(p)
			return done, nil
		})
	if err != nil {
		t.Fatalf("%s never settled; status: %+v", p.GetName(), *p.ProgramStatus())
	}
	r.Kind = reflect.TypeOf(p).Elem().Name()
	if r.Outcome == Ready {
		checkKernel(t, c, p.GetUID())
		r.Traffic = h.traffic(t, p)
	}
	return r
}

// traffic pings iface from its peer's netns through an XDP program p:
// "passes" if both pings are answered, "drops" if none are.
func (h hooks) traffic(t *testing.T, p bpfleetv1.Program) string {
	if _, xdp := p.(*bpfleetv1.XdpProgram); !xdp {
		return ""
	}
	switch n := testkernel.Ping(t, h.ns, h.addr, 2); n {
	case 2:
		return "passes"
	case 0:
		return "drops"
	default:
		return fmt.Sprintf("%d of 2 pings answered", n)
	}
}

// settled reads p's status: its outcome once it has one.
func settled(p bpfleetv1.Program) (result, bool) {
	st := p.ProgramStatus()
	if st.ObservedGeneration != p.GetGeneration() {
		return result{}, false
	}
	ready := meta.FindStatusCondition(st.Conditions, bpfleetv1.ConditionReady)
	switch {
	case ready != nil && ready.Status == metav1.ConditionTrue && st.Nodes.Unsupported > 0:
		return result{Outcome: Unsupported, Reason: ready.Reason, Message: ready.Message}, true
	case ready != nil && ready.Status == metav1.ConditionTrue && st.Nodes.Ready > 0:
		return result{Outcome: Ready, Reason: ready.Reason}, true
	case len(st.Failures) > 0:
		f := st.Failures[0]
		return result{Outcome: Failed, Reason: f.Reason, Message: f.Message}, true
	}
	return result{}, false
}

// checkKernel checks that the node reports the program's kernel ID and a
// link.
func checkKernel(t *testing.T, c client.Client, uid types.UID) {
	t.Helper()
	var report bpfleetv1.NodeProgramReport
	if err := c.Get(context.Background(), types.NamespacedName{Name: shared.Node}, &report); err != nil {
		t.Fatal(err)
	}
	for _, e := range report.Status.Programs {
		if e.UID != uid {
			continue
		}
		if e.ProgramID == 0 || len(e.Objects.Links) == 0 {
			t.Errorf("Ready, but the node reports program ID %d and links %+v", e.ProgramID, e.Objects.Links)
		}
		return
	}
	t.Errorf("Ready, but node %s reports nothing for %s", shared.Node, uid)
}

func deleteAndWait(t *testing.T, c client.Client, p bpfleetv1.Program) {
	t.Helper()
	if err := c.Delete(context.Background(), p); client.IgnoreNotFound(err) != nil {
		t.Errorf("delete %s: %v", p.GetName(), err)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 60*time.Second, true,
		func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, client.ObjectKeyFromObject(p), p.DeepCopyObject().(client.Object))
			return apierrors.IsNotFound(err), nil
		})
	if err != nil {
		t.Errorf("%s was never deleted", p.GetName())
	}
}

// resourceName is a Kubernetes name for program number i of the corpus.
func resourceName(i int, program string) string {
	name := fmt.Sprintf("corpus-%02d-%s", i, strings.ToLower(strings.ReplaceAll(program, "_", "-")))
	return strings.TrimRight(name[:min(len(name), 63)], "-")
}
