package faults

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/loader"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// The BPF filesystem holding the agent's pins is unmounted under it. Its
// pin root lies outside /sys/fs/bpf, so the agent may not mount one
// itself: its next pass reports PinRootUnavailable on the program and
// loads nothing (nothing would hold what it loaded); once an admin mounts
// a BPF filesystem there again, the pass after reloads the program,
// pinned, and says so in its status.
func TestBPFFSUnmountedRefused(t *testing.T) {
	s := start(t)
	h := newHost(t, s)
	ep := h.serveEndpoints()
	b := newUnmountCase(t, h, "faults-bpffs-counter")

	b.unmount()
	b.triggerPass()
	h.settle("PinRootUnavailable reported", func(ctx context.Context) bool {
		st, ok := reported(ctx, b.c, b.tp.UID)
		return ok && st.Reason == loader.ReasonPinRootUnavailable && st.Generation == b.tp.Generation
	})
	st := nodeEntry(t, b.c, b.tp.UID)
	t.Logf("pin root unavailable: %s", st.Message)
	if !strings.Contains(st.Message, "not on a BPF filesystem") {
		t.Errorf("the status does not say the BPF filesystem is gone: %q", st.Message)
	}
	eventually(t, "no counter of ours in the kernel while nothing can pin it", func() error {
		return sameIDs("tracepoint counters", counters(t), nil)
	})
	if n := ep.metric(t, "bpfleet_agent_pin_root_lost_total", `outcome="unavailable"`); n < 1 {
		t.Errorf("bpfleet_agent_pin_root_lost_total{outcome=unavailable} = %v, want ≥ 1", n)
	}

	if err := pins.MountBPFFS(b.mnt); err != nil { // as an admin would
		t.Fatal(err)
	}
	b.awaitReloaded()
	if n := ep.metric(t, "bpfleet_agent_pin_root_lost_total", `outcome="reloaded"`); n != 1 {
		t.Errorf("bpfleet_agent_pin_root_lost_total{outcome=reloaded} = %v, want 1", n)
	}
}

// The same with --bpffs-mount-at naming the pin root's mount point: the
// agent mounts a BPF filesystem there again by itself, on its next pass,
// and reloads the program.
func TestBPFFSUnmountedRemounted(t *testing.T) {
	s := start(t)
	h := newHost(t, s)
	h.args = append(h.args, "--bpffs-mount-at="+filepath.Dir(h.pinRoot))
	b := newUnmountCase(t, h, "faults-bpffs-remounted")

	b.unmount()
	b.triggerPass()
	b.awaitReloaded()
	if ok, err := pins.IsBPFFS(b.mnt); err != nil || !ok {
		t.Errorf("%s is not a BPF filesystem after the agent's pass: %v", b.mnt, err)
	}
}

// unmountCase is a tracepoint counter running from a pin root whose BPF
// filesystem the case unmounts.
type unmountCase struct {
	h      *host
	c      client.Client
	tp     *bpfleetv1.TracepointProgram
	mnt    string // the BPF filesystem's mount point
	before bpfleetv1.NodeProgramStatus
}

// newUnmountCase starts the agent and has it run a counter. When the case
// ends, a BPF filesystem is mounted again if none is, before the counter
// is deleted.
func newUnmountCase(t *testing.T, h *host, name string) *unmountCase {
	b := &unmountCase{h: h, c: h.s.stack.Client, tp: tracepointCounter(h.s, name), mnt: filepath.Dir(h.pinRoot)}
	t.Cleanup(func() { h.deleteAll(b.tp) })
	t.Cleanup(func() {
		if err := pins.MountBPFFS(b.mnt); err != nil {
			t.Errorf("mount the BPF filesystem again: %v", err)
		}
	})
	h.start("")
	if err := b.c.Create(context.Background(), b.tp); err != nil {
		t.Fatal(err)
	}
	h.settle("the counter Ready", func(ctx context.Context) bool { return programReady(ctx, b.c, b.tp) })
	b.before = nodeEntry(t, b.c, b.tp.UID)
	return b
}

// unmount unmounts the BPF filesystem, lazily if it is busy, and waits
// until the kernel freed the counter its pins held.
func (b *unmountCase) unmount() {
	t := b.h.t
	t.Helper()
	err := unix.Unmount(b.mnt, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(b.mnt, unix.MNT_DETACH)
	}
	if err != nil {
		t.Fatalf("unmount %s: %v", b.mnt, err)
	}
	eventually(t, "the counter freed with its pins", func() error {
		return sameIDs("tracepoint counters", counters(t), nil)
	})
}

// triggerPass changes the counter (a new revision): the agent's next pass
// comes at once.
func (b *unmountCase) triggerPass() {
	base := b.tp.DeepCopy()
	b.tp.Spec.GlobalData["increment"] = "2"
	if err := b.c.Patch(context.Background(), b.tp, client.MergeFrom(base)); err != nil {
		b.h.t.Fatal(err)
	}
}

// awaitReloaded waits until the node runs the counter again, pinned, its
// status saying it was reloaded because its pins were lost, and checks
// the kernel holds it, and nothing else of ours.
func (b *unmountCase) awaitReloaded() {
	t := b.h.t
	t.Helper()
	b.h.settle("the counter reloaded", func(ctx context.Context) bool {
		st, ok := reported(ctx, b.c, b.tp.UID)
		return ok && programReady(ctx, b.c, b.tp) && strings.HasPrefix(st.Message, "reloaded: ")
	})
	after := nodeEntry(t, b.c, b.tp.UID)
	t.Logf("program %d lost with its BPF filesystem; reloaded as %d: %s", b.before.ProgramID, after.ProgramID, after.Message)
	checkPins(t, after, "main")
	checkRoot(t, b.h.pinRoot, after)
	eventually(t, "the counters in the kernel are the one reported", func() error {
		return sameIDs("tracepoint counters", counters(t), programIDs(after))
	})
}

// reported is what the agent reports for uid, if anything.
func reported(ctx context.Context, c client.Client, uid types.UID) (bpfleetv1.NodeProgramStatus, bool) {
	var report bpfleetv1.NodeProgramReport
	if c.Get(ctx, types.NamespacedName{Name: node}, &report) != nil {
		return bpfleetv1.NodeProgramStatus{}, false
	}
	for _, e := range report.Status.Programs {
		if e.UID == uid {
			return e, true
		}
	}
	return bpfleetv1.NodeProgramStatus{}, false
}
