package attach_test

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
)

// TestLinkKeysAsBefore pins the links part of revisions to what agents
// computed before hooks were registered (f53dd76, one attach field per
// hook): an upgraded agent adopts what an older one pinned, and moves its
// links in place, instead of attaching anew.
func TestLinkKeysAsBefore(t *testing.T) {
	eth0 := bpfleetv1.InterfaceSelector{Names: []bpfleetv1.InterfaceName{"eth0"}}
	fn := bpfleetv1.FentryAttach{Function: "do_sys_openat2"}
	for _, tc := range []struct {
		hook     string
		settings any
		want     string
	}{
		{bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"}, "f1a308e2"},
		{bpfleetv1.HookXDP, bpfleetv1.XDPAttach{Interfaces: eth0, Mode: bpfleetv1.XDPAuto}, "75c808ca"},
		{bpfleetv1.HookTCX, bpfleetv1.TCXAttach{Interfaces: eth0, Direction: bpfleetv1.TCXIngress, Order: &bpfleetv1.TCXOrder{After: "a"}}, "f95ec564"},
		{bpfleetv1.HookUprobe, bpfleetv1.UprobeAttach{UprobeFunction: bpfleetv1.UprobeFunction{Target: "libc", Function: "malloc", Retprobe: true}, PID: 42}, "fc901a0b"},
		{bpfleetv1.HookKprobe, bpfleetv1.KprobeAttach{Function: "do_sys_openat2", Offset: 8}, "bdb2b7e8"},
		{bpfleetv1.HookFentry, fn, "534d2d19"},
		{bpfleetv1.HookFexit, fn, "138bdcca"},
	} {
		h, err := attach.Lookup(tc.hook)
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.LinkKey(bpfleetv1.NewAttachPoint(tc.hook, tc.settings))
		if err != nil || got != tc.want {
			t.Errorf("%s: link key %s (%v), want %s", tc.hook, got, err, tc.want)
		}
	}
}

// A set written by an older operator names no hook: the agent waits for
// the operator to write it anew, and unloads nothing meanwhile.
func TestNoHookWaits(t *testing.T) {
	_, err := attach.Lookup("")
	var wait *failure.Wait
	if !errors.As(err, &wait) {
		t.Errorf("Lookup(\"\") = %v, want a *failure.Wait", err)
	}
}

func TestInconclusive(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("load: %w", unix.ENOMEM), true},
		{fmt.Errorf("attach: %w", unix.EBUSY), true},
		{fmt.Errorf("load: %w", unix.EPERM), false},
		{&failure.Unsupported{Missing: "kernel lacks kprobes"}, false},
		{errors.New("kernel lacks TCX (Linux 6.6+)"), false},
	} {
		if got := attach.Inconclusive(tc.err); got != tc.want {
			t.Errorf("Inconclusive(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
