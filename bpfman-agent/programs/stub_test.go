package programs_test

import (
	"errors"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// xdpStub is a hook of another program type, to test type checking before
// anything is loaded. It never attaches.
type xdpStub struct{}

func (xdpStub) ProgramType() ebpf.ProgramType { return ebpf.XDP }

func (xdpStub) Attach(*ebpf.Program) (link.Link, error) { return nil, errors.New("stub") }

func (xdpStub) String() string { return "xdp stub" }
