package attach_test

import (
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func TestTracepointWrongProgramType(t *testing.T) {
	testkernel.Require(t)
	tp := attach.Tracepoint{Group: "syscalls", Name: "sys_enter_openat"}
	if err := attach.CheckType(tp, ebpf.XDP); err == nil {
		t.Error("CheckType accepted an XDP program for a tracepoint")
	}
	if a, err := tp.Attach(program(t, ebpf.SocketFilter)); err == nil {
		a.Link.Close()
		t.Error("attached a socket filter to a tracepoint")
	}
}

func TestTracepointMissing(t *testing.T) {
	testkernel.Require(t)
	tp := attach.Tracepoint{Group: "syscalls", Name: "sys_enter_no_such_call"}
	if a, err := tp.Attach(program(t, ebpf.TracePoint)); err == nil {
		a.Link.Close()
		t.Fatal("attached to a tracepoint that does not exist")
	}
}

func TestParseTracepoint(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"syscalls/sys_enter_openat", true},
		{"sched/sched_switch", true},
		{"syscalls", false},
		{"/sys_enter_openat", false},
		{"syscalls/", false},
		{"syscalls/../../x", false},
		{"syscalls/sys enter", false},
		{"a/b/c", false},
	} {
		tp, err := attach.ParseTracepoint(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseTracepoint(%q) = %v, %v; want ok=%v", tc.in, tp, err, tc.ok)
		}
	}
}
