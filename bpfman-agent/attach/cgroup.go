package attach

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
)

var (
	_ Spec     = Cgroup{}
	_ Preparer = Cgroup{}
)

var _ = register(hook[bpfleetv1.CgroupAttach]{
	name:  bpfleetv1.HookCgroup,
	probe: probeCgroup,
	plan: func(s bpfleetv1.CgroupAttach, facts *Facts) (Plan, error) {
		if s.Cgroups != nil {
			return perPodCgroup(s, facts)
		}
		if facts.node().Cgroup2 == "" {
			return Plan{}, &failure.Unsupported{Missing: "no cgroup v2 hierarchy is mounted on the node"}
		}
		// Checked before the join, which would resolve "..".
		c := Cgroup{Path: s.Path, Type: string(s.Type)}
		if err := c.Validate(); err != nil {
			return Plan{}, &failure.Invalid{Err: err}
		}
		c.Path = filepath.Join(facts.Cgroup2, s.Path)
		var err error
		if o := s.Order; o != nil {
			c.Anchor, err = anchor(facts, "CgroupProgram", MainTarget, o.First, o.Before, o.After)
		}
		return Single(c), err
	},
	// Pods that come and go add and remove links of one revision.
	linkSettings: func(s bpfleetv1.CgroupAttach) bpfleetv1.CgroupAttach {
		s.Cgroups = nil
		return s
	},
})

// perPodCgroup plans s on the cgroup of each selected pod, and so on
// every container of it. An order naming another CgroupProgram places
// the link relative to that program's link on the same pod's cgroup.
func perPodCgroup(s bpfleetv1.CgroupAttach, facts *Facts) (Plan, error) {
	matched, err := selectPods(s.Cgroups, facts, false)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{PodScoped: true}
	var errs []error
	for _, pod := range matched {
		p.matchPod(pod)
		switch {
		case pod.Err != nil:
			p.failPod(pod, pod.Err)
			continue
		case pod.Cgroup == "":
			p.failPod(pod, errors.New("its cgroup v2 directory is not known (the node has no cgroup v2 hierarchy, or the pod is not in it)"))
			continue
		}
		key := podKey(pod)
		c := Cgroup{Path: pod.Cgroup, Type: string(s.Type)}
		if o := s.Order; o != nil {
			c.Anchor, err = anchor(facts, "CgroupProgram", key, o.First, o.Before, o.After)
			errs = append(errs, err)
		}
		p.addPodTarget(key, pod, "cgroup", c)
	}
	return p, errors.Join(errs...)
}

// cgroupHook is a hook in a cgroup: the program type that runs there and
// its attach type.
type cgroupHook struct {
	program ebpf.ProgramType
	attach  ebpf.AttachType
}

// cgroupHooks maps the API's CgroupAttachType to the kernel's.
var cgroupHooks = map[string]cgroupHook{
	"ingress":      {ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress},
	"egress":       {ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress},
	"sock_create":  {ebpf.CGroupSock, ebpf.AttachCGroupInetSockCreate},
	"sock_release": {ebpf.CGroupSock, ebpf.AttachCgroupInetSockRelease},
	"post_bind4":   {ebpf.CGroupSock, ebpf.AttachCGroupInet4PostBind},
	"post_bind6":   {ebpf.CGroupSock, ebpf.AttachCGroupInet6PostBind},
	"sock_ops":     {ebpf.SockOps, ebpf.AttachCGroupSockOps},
	"bind4":        {ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Bind},
	"bind6":        {ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Bind},
	"connect4":     {ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Connect},
	"connect6":     {ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Connect},
	"sendmsg4":     {ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP4Sendmsg},
	"sendmsg6":     {ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP6Sendmsg},
	"recvmsg4":     {ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP4Recvmsg},
	"recvmsg6":     {ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP6Recvmsg},
	"getpeername4": {ebpf.CGroupSockAddr, ebpf.AttachCgroupInet4GetPeername},
	"getpeername6": {ebpf.CGroupSockAddr, ebpf.AttachCgroupInet6GetPeername},
	"getsockname4": {ebpf.CGroupSockAddr, ebpf.AttachCgroupInet4GetSockname},
	"getsockname6": {ebpf.CGroupSockAddr, ebpf.AttachCgroupInet6GetSockname},
	"sysctl":       {ebpf.CGroupSysctl, ebpf.AttachCGroupSysctl},
	"device":       {ebpf.CGroupDevice, ebpf.AttachCGroupDevice},
}

// Cgroup is a hook (Type, a key of the API's CgroupAttachType, e.g.
// "egress" or "connect4") of the cgroup v2 directory at Path. Programs on
// one hook of one cgroup run one after another, each with its own link,
// in Anchor's order.
type Cgroup struct {
	Path   string
	Type   string
	Anchor Order
}

// Validate checks Path, an absolute clean path, and Type.
func (c Cgroup) Validate() error {
	if !isCleanAbs(c.Path) {
		return fmt.Errorf("cgroup %q: must be an absolute path without '..'", c.Path)
	}
	_, err := c.hook()
	return err
}

// ProgramType implements Spec.
func (c Cgroup) ProgramType() ebpf.ProgramType {
	h, _ := c.hook()
	return h.program
}

// Prepare implements Preparer: the kernel checks a cgroup program's
// expected attach type when it loads (cgroup_sock_addr needs it), so it
// is set to Type's, whatever the program's ELF section said.
func (c Cgroup) Prepare(spec *ebpf.ProgramSpec) error {
	h, err := c.hook()
	if err != nil {
		return err
	}
	if err := CheckType(c, spec.Type); err != nil {
		return err
	}
	spec.AttachType = h.attach
	return nil
}

// Attach implements Spec. A cgroup that does not exist is waited for
// (*failure.Wait).
func (c Cgroup) Attach(prog *ebpf.Program) (Attachment, error) {
	if err := c.Validate(); err != nil {
		return Attachment{}, err
	}
	if _, err := os.Stat(c.Path); errors.Is(err, os.ErrNotExist) {
		// A cgroup comes with its workload (kubepods.slice with systemd,
		// kubepods with cgroupfs): wait for it, as for an interface.
		// (cilium/ebpf's open error does not wrap the errno.)
		return Attachment{}, &failure.Wait{What: fmt.Sprintf("cgroup %s does not exist (yet)", c.Path)}
	}
	h, _ := c.hook()
	var l link.Link
	var err error
	if c.Anchor == (Order{}) || c.Anchor.Last {
		l, err = link.AttachCgroup(link.CgroupOptions{Path: c.Path, Attach: h.attach, Program: prog})
	} else {
		l, err = attachCgroupOrdered(c.Path, h.attach, prog, c.Anchor)
	}
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", c, err)
	}
	return Attachment{Link: l, Detail: c.String()}, nil
}

func (c Cgroup) String() string {
	s := "cgroup " + c.Path + " " + c.Type
	if c.Anchor != (Order{}) && !c.Anchor.Last {
		s += " (" + c.Anchor.String() + ")"
	}
	return s
}

// linkCreateAttr is the kernel's union bpf_attr for BPF_LINK_CREATE with
// the cgroup fields (the layout of TCX's: a relative link, a revision).
type linkCreateAttr struct {
	progFD, targetFD, attachType, flags uint32
	relative                            uint32
	_                                   uint32
	expectedRevision                    uint64
}

// attachCgroupOrdered makes a cgroup link at anchor a, through the
// kernel's multi-program ordering of cgroups (BPF_F_BEFORE / BPF_F_AFTER,
// relative to a link by ID), which cilium/ebpf does not offer for cgroups.
// A kernel without it refuses the flags: *failure.Unsupported.
func attachCgroupOrdered(path string, typ ebpf.AttachType, prog *ebpf.Program, a Order) (link.Link, error) {
	dir, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	attr := linkCreateAttr{progFD: uint32(prog.FD()), targetFD: uint32(dir.Fd()), attachType: uint32(typ)}
	switch {
	case a.First:
		attr.flags = unix.BPF_F_BEFORE
	case a.BeforeLink != 0:
		attr.flags, attr.relative = unix.BPF_F_BEFORE|unix.BPF_F_ID|unix.BPF_F_LINK, a.BeforeLink
	case a.AfterLink != 0:
		attr.flags, attr.relative = unix.BPF_F_AFTER|unix.BPF_F_ID|unix.BPF_F_LINK, a.AfterLink
	}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_LINK_CREATE, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(prog)
	if errno == unix.EINVAL {
		// The relative link is one the agent just found attached here.
		return nil, &failure.Unsupported{Missing: "kernel refuses to order cgroup programs (EINVAL): it lacks multi-program cgroup links"}
	}
	if errno != 0 {
		return nil, fmt.Errorf("link create: %w", errno)
	}
	return link.NewFromFD(int(fd))
}

func (c Cgroup) hook() (cgroupHook, error) {
	h, ok := cgroupHooks[c.Type]
	if !ok {
		return h, fmt.Errorf("cgroup hook %q: unknown", c.Type)
	}
	return h, nil
}

// probeCgroupName is the empty cgroup the probe attaches in, a fixed name
// so that one left by an agent that died mid-probe is removed by the next.
const probeCgroupName = "bpfleet-probe"

// probeCgroup attaches a trial program to the egress hook of a new, empty
// cgroup, which it then removes: no process is there to run it.
func probeCgroup() error {
	if err := programType(ebpf.CGroupSKB); err != nil {
		return err
	}
	root := cgroup2Root()
	if root == "" {
		return errors.New("no cgroup v2 hierarchy is mounted")
	}
	dir := filepath.Join(root, probeCgroupName)
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return probeFailed("removing the probe's cgroup of an earlier run fails", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return probeFailed("creating a cgroup fails", err)
	}
	err := withProgram(ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress, func(prog *ebpf.Program) error {
		a, err := Cgroup{Path: dir, Type: "egress"}.Attach(prog)
		if err != nil {
			return err
		}
		return a.Link.Close()
	})
	if err != nil {
		err = probeFailed("attaching a cgroup program fails", err)
	}
	return errors.Join(err, removeEmpty(dir))
}

// removeEmpty removes an empty cgroup; the kernel may hold it a moment
// after the last link on it is closed.
func removeEmpty(dir string) error {
	var err error
	for range 100 {
		if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return probeFailed("removing the probe's cgroup fails", err)
}
