package attach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/bpfleet/bpfleet/bpfman-agent/nsenter"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

var (
	_ Spec      = XDP{}
	_ Describer = XDP{}
)

var _ = register(hook[bpfleetv1.XDPAttach]{
	name:  bpfleetv1.HookXDP,
	probe: probeXDP,
	plan: func(s bpfleetv1.XDPAttach, facts *Facts) (Plan, error) {
		if s.NetworkNamespaces != nil {
			return perPodInterface(s.Interfaces, s.NetworkNamespaces, facts, func(iface string, ns Netns) Spec {
				return XDP{Interface: iface, Mode: string(s.Mode), Netns: ns}
			})
		}
		return perInterface(s.Interfaces, facts, func(iface string) (Spec, error) {
			return XDP{Interface: iface, Mode: string(s.Mode)}, nil
		})
	},
	// Interfaces (and pods) that come and go add and remove links of one
	// revision.
	linkSettings: func(s bpfleetv1.XDPAttach) bpfleetv1.XDPAttach {
		s.Interfaces, s.NetworkNamespaces = bpfleetv1.InterfaceSelector{}, nil
		return s
	},
})

// XDP modes.
const (
	XDPNative  = "native"  // in the driver
	XDPGeneric = "generic" // in the kernel's receive path, for any device
	XDPAuto    = "auto"    // native where the driver allows it, else generic
)

// XDP is the XDP hook of one network interface, in Netns (a pod's) or
// the agent's. Mode is XDPNative, XDPGeneric or XDPAuto ("" means auto).
type XDP struct {
	Interface string
	Mode      string
	Netns     Netns
}

// Validate checks Interface and Mode.
func (x XDP) Validate() error {
	if err := checkIfname(x.Interface); err != nil {
		return err
	}
	_, err := x.flags()
	return err
}

// ProgramType implements Spec.
func (XDP) ProgramType() ebpf.ProgramType { return ebpf.XDP }

// Attach implements Spec. The interface is looked up now, by name; with
// XDPAuto, native mode is tried first, and generic mode only if the
// driver refused native mode: a hook another program holds (Busy) is an
// error, not a reason for generic mode (while a program in generic mode
// is being replaced, its link may go between the two tries). Detail says
// which mode attached, e.g. "mode=generic".
func (x XDP) Attach(prog *ebpf.Program) (a Attachment, err error) {
	if err := x.Validate(); err != nil {
		return Attachment{}, err
	}
	err = x.Netns.run(func() (err error) {
		a, err = x.attach(prog)
		return err
	})
	return a, err
}

func (x XDP) attach(prog *ebpf.Program) (Attachment, error) {
	ifindex, err := ifindexOf(x.Interface)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", x, err)
	}
	modes, _ := x.flags()
	var errs []error
	for _, mode := range modes {
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifindex, Flags: mode})
		if err == nil {
			return Attachment{Link: l, Detail: "mode=" + modeName(mode)}, nil
		}
		errs = append(errs, fmt.Errorf("%s mode: %w", modeName(mode), err))
		if Busy(err) {
			break
		}
	}
	return Attachment{}, fmt.Errorf("attach %s: %w", x, errors.Join(errs...))
}

// Describe implements Describer: the mode l is attached in, read from
// the interface's netlink attributes, as Attach's Detail says it.
func (x XDP) Describe(l link.Link) (string, error) {
	info, err := l.Info()
	if err != nil || info.XDP() == nil {
		return "", fmt.Errorf("describe %s: not an xdp link (%v)", x, err)
	}
	var ids map[uint16]uint32
	err = x.Netns.run(func() (err error) {
		ids, err = xdpProgIDs(int32(info.XDP().Ifindex))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", x, err)
	}
	switch uint32(info.Program) {
	case ids[unix.IFLA_XDP_DRV_PROG_ID]:
		return "mode=" + XDPNative, nil
	case ids[unix.IFLA_XDP_SKB_PROG_ID]:
		return "mode=" + XDPGeneric, nil
	}
	return "", fmt.Errorf("describe %s: program %d is not attached", x, info.Program)
}

func (x XDP) String() string {
	mode := x.Mode
	if mode == "" {
		mode = XDPAuto
	}
	return "xdp " + x.Interface + " (" + mode + ")" + x.Netns.String()
}

// flags lists the modes to try, in order.
func (x XDP) flags() ([]link.XDPAttachFlags, error) {
	switch x.Mode {
	case XDPNative:
		return []link.XDPAttachFlags{link.XDPDriverMode}, nil
	case XDPGeneric:
		return []link.XDPAttachFlags{link.XDPGenericMode}, nil
	case XDPAuto, "":
		return []link.XDPAttachFlags{link.XDPDriverMode, link.XDPGenericMode}, nil
	}
	return nil, fmt.Errorf("xdp mode %q: want %s, %s or %s", x.Mode, XDPNative, XDPGeneric, XDPAuto)
}

// Busy reports whether err says the hook holds another program already,
// one it does not share (EBUSY, EEXIST).
func Busy(err error) bool { return errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) }

func modeName(f link.XDPAttachFlags) string {
	if f == link.XDPGenericMode {
		return XDPGeneric
	}
	return XDPNative
}

// xdpProgIDs returns the IFLA_XDP attributes of interface ifindex that
// hold a u32, by type: the program IDs per mode (IFLA_XDP_*_PROG_ID).
func xdpProgIDs(ifindex int32) (map[uint16]uint32, error) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg ||
			int32(binary.NativeEndian.Uint32(m.Data[4:8])) != ifindex {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
		for _, a := range attrs {
			if a.Attr.Type&^syscall.NLA_F_NESTED == unix.IFLA_XDP {
				return u32Attrs(a.Value), nil
			}
		}
	}
	return nil, fmt.Errorf("interface %d: gone or without xdp", ifindex)
}

// u32Attrs decodes the 4-byte attributes of a nested netlink attribute.
func u32Attrs(b []byte) map[uint16]uint32 {
	out := map[uint16]uint32{}
	for len(b) >= 4 {
		n, typ := int(binary.NativeEndian.Uint16(b)), binary.NativeEndian.Uint16(b[2:])
		if n < 4 || n > len(b) {
			break
		}
		if n == 8 {
			out[typ] = binary.NativeEndian.Uint32(b[4:8])
		}
		b = b[min(len(b), (n+3)&^3):]
	}
	return out
}

// ifindexOf is the index of the interface called name.
func ifindexOf(name string) (int, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	return ifc.Index, nil
}

// maxIfnameLen is IFNAMSIZ less the terminating NUL.
const maxIfnameLen = 15

// checkIfname accepts what the kernel accepts as an interface name: 1 to
// 15 printable ASCII bytes, no '/', ':' or space, not "." or "..".
func checkIfname(s string) error {
	if s == "" || len(s) > maxIfnameLen || s == "." || s == ".." {
		return fmt.Errorf("interface %q: not a valid name (1 to %d characters)", s, maxIfnameLen)
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || c == '/' || c == ':' {
			return fmt.Errorf("interface %q: character %q not allowed", s, c)
		}
	}
	return nil
}

// probeXDP attaches an XDP link to the loopback interface of a new, empty
// network namespace. (Attaching to a missing interface cannot tell: the
// kernel answers EINVAL, as it does without XDP links.)
func probeXDP() error {
	if err := programType(ebpf.XDP); err != nil {
		return err
	}
	err := nsenter.Unshared(unix.CLONE_NEWNET, func() error {
		return withProgram(ebpf.XDP, ebpf.AttachNone, func(prog *ebpf.Program) error {
			l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: loopback})
			if err != nil {
				return err
			}
			return l.Close()
		})
	})
	if errors.Is(err, ebpf.ErrNotSupported) {
		return errors.New("kernel lacks XDP links (Linux 5.9+)")
	}
	if err != nil {
		return probeFailed("attaching an XDP link fails", err)
	}
	return nil
}
