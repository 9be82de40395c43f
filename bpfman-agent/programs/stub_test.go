package programs_test

import (
	"errors"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
)

// xdpStub is a hook of another program type, to test type checking before
// anything is loaded. It never attaches.
type xdpStub struct{}

func (xdpStub) ProgramType() ebpf.ProgramType { return ebpf.XDP }

func (xdpStub) Attach(*ebpf.Program) (attach.Attachment, error) {
	return attach.Attachment{}, errors.New("stub")
}

func (xdpStub) String() string { return "xdp stub" }

// preparing is the openat tracepoint as a Preparer: Prepare records the
// name of the spec it is given, then returns err.
type preparing struct {
	attach.Tracepoint
	seen *string
	err  error
}

func (p preparing) Prepare(spec *ebpf.ProgramSpec) error {
	*p.seen = spec.Name
	return p.err
}
