package attach_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// tempCgroup makes an empty cgroup v2 directory, removed when the test
// ends, and returns its path from the hierarchy's root with the facts
// that say where the root is.
func tempCgroup(t *testing.T) (string, *attach.Facts) {
	t.Helper()
	facts := attach.ReadFacts()
	if facts.Cgroup2 == "" {
		t.Fatal("no cgroup v2 hierarchy mounted: cgroup programs cannot be tested here")
	}
	dir, err := os.MkdirTemp(facts.Cgroup2, "bpfleet-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroup(t, dir) })
	return "/" + filepath.Base(dir), facts
}

// removeCgroup removes an empty cgroup; the kernel frees it once its
// last process is reaped, which may take a moment.
func removeCgroup(t *testing.T, dir string) {
	var err error
	for range 100 {
		if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("cgroup %s left behind: %v", dir, err)
}

// TestCgroupCounts counts the UDP packets a process in a cgroup sends,
// through the cgroup's egress hook; the packets still go out.
func TestCgroupCounts(t *testing.T) {
	testkernel.Require(t)
	path, facts := tempCgroup(t)
	plan, err := attach.Lookup(bpfleetv1.HookCgroup)
	must(t, err)
	p, err := plan.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookCgroup, bpfleetv1.CgroupAttach{Path: path, Type: "egress"}), facts)
	must(t, err)
	spec := p.Targets[attach.MainTarget]
	coll := loadCgroupCounter(t, spec)
	a, err := spec.Attach(coll.Programs["cgroup_skb_count"])
	must(t, err)
	defer a.Link.Close()

	// The shell joins the cgroup, then sends 5 datagrams to the discard
	// port of the loopback interface.
	dir := filepath.Join(facts.Cgroup2, path)
	script := `echo $$ > ` + filepath.Join(dir, "cgroup.procs") + `; for i in 1 2 3 4 5; do echo x > /dev/udp/127.0.0.1/9; done`
	if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sender: %v\n%s", err, out)
	}
	var got uint64
	must(t, coll.Maps["packets"].Lookup(uint32(0), &got))
	if got < 5 {
		t.Fatalf("counted %d packets out of the cgroup, want at least 5", got)
	}
	if a.Detail != spec.String() || !strings.Contains(a.Detail, "egress") {
		t.Errorf("detail %q", a.Detail)
	}
}

func loadCgroupCounter(t *testing.T, spec attach.Spec) *ebpf.Collection {
	t.Helper()
	cs, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(bpf.CgroupCounter))
	must(t, err)
	must(t, spec.(attach.Preparer).Prepare(cs.Programs["cgroup_skb_count"]))
	coll, err := ebpf.NewCollection(cs)
	must(t, err)
	t.Cleanup(coll.Close)
	return coll
}

func TestCgroupInvalid(t *testing.T) {
	hook, err := attach.Lookup(bpfleetv1.HookCgroup)
	must(t, err)
	facts := &attach.Facts{Cgroup2: "/sys/fs/cgroup"}
	for _, s := range []bpfleetv1.CgroupAttach{
		{Path: "/a/../../etc", Type: "egress"},
		{Path: "/", Type: "teleport"},
	} {
		_, err := hook.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookCgroup, s), facts)
		var serr *failure.Invalid
		if !errors.As(err, &serr) {
			t.Errorf("plan %+v: %v, want a *failure.Invalid", s, err)
		}
	}
	if _, err := hook.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookCgroup, bpfleetv1.CgroupAttach{Path: "/", Type: "egress"}), &attach.Facts{}); err == nil {
		t.Error("planned a cgroup program on a node without cgroup v2")
	}
	c := attach.Cgroup{Path: "/sys/fs/cgroup", Type: "connect4"}
	if err := c.Prepare(&ebpf.ProgramSpec{Type: ebpf.CGroupSKB}); err == nil {
		t.Error("prepared a cgroup_skb program for connect4")
	}
	ps := &ebpf.ProgramSpec{Type: ebpf.CGroupSockAddr, AttachType: ebpf.AttachCGroupInet6Bind}
	if err := c.Prepare(ps); err != nil || ps.AttachType != ebpf.AttachCGroupInet4Connect {
		t.Errorf("prepare connect4: %v, attach type %v", err, ps.AttachType)
	}
}

// A cgroup that does not exist yet is waited for, as an interface is: it
// comes with its workload.
func TestCgroupMissingWaits(t *testing.T) {
	testkernel.Require(t)
	path, facts := tempCgroup(t)
	spec := attach.Cgroup{Path: filepath.Join(facts.Cgroup2, path, "not-yet"), Type: "egress"}
	_, err := spec.Attach(programFor(t, spec))
	var wait *failure.Wait
	if !errors.As(err, &wait) {
		t.Fatalf("attach to a missing cgroup: %v, want a *failure.Wait", err)
	}
}

// TestCgroupOrder attaches three programs to one hook of a cgroup — one
// last, one first, one after the first — and reads their order back from
// the kernel. A kernel that cannot order cgroup programs (Debian's 6.1)
// must refuse the first ordered one as Unsupported.
func TestCgroupOrder(t *testing.T) {
	testkernel.Require(t)
	path, facts := tempCgroup(t)
	hook, err := attach.Lookup(bpfleetv1.HookCgroup)
	must(t, err)
	attachAt := func(name string, order *bpfleetv1.CgroupOrder) (ebpf.ProgramID, error) {
		p, err := hook.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookCgroup,
			bpfleetv1.CgroupAttach{Path: path, Type: "egress", Order: order}), facts)
		must(t, err)
		spec := p.Targets[attach.MainTarget]
		prog := programFor(t, spec)
		a, err := spec.Attach(prog)
		if err != nil {
			return 0, err
		}
		t.Cleanup(func() { a.Link.Close() })
		info, err := a.Link.Info()
		must(t, err)
		facts.AddLinks("CgroupProgram", name, map[string]uint32{attach.MainTarget: uint32(info.ID)})
		return progID(t, prog), nil
	}
	last, err := attachAt("last", nil)
	must(t, err)
	first, err := attachAt("first", &bpfleetv1.CgroupOrder{First: true})
	var unsupported *failure.Unsupported
	if errors.As(err, &unsupported) {
		t.Logf("this kernel cannot order cgroup programs: the ordered attach is Unsupported: %v", err)
		return
	}
	must(t, err)
	second, err := attachAt("second", &bpfleetv1.CgroupOrder{After: "first"})
	must(t, err)

	dir, err := os.Open(filepath.Join(facts.Cgroup2, path))
	must(t, err)
	defer dir.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(dir.Fd()), Attach: ebpf.AttachCGroupInetEgress})
	must(t, err)
	var got []ebpf.ProgramID
	for _, p := range res.Programs {
		got = append(got, p.ID)
	}
	if want := []ebpf.ProgramID{first, second, last}; !slices.Equal(got, want) {
		t.Fatalf("programs on the hook %v, want first, second, last: %v", got, want)
	}
	if _, err := hook.Plan(bpfleetv1.NewAttachPoint(bpfleetv1.HookCgroup,
		bpfleetv1.CgroupAttach{Path: path, Type: "egress", Order: &bpfleetv1.CgroupOrder{Before: "absent"}}), facts); err == nil {
		t.Error("planned a program before one that is not attached")
	}
}
