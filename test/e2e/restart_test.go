package e2e

import (
	"context"
	"testing"

	"github.com/cilium/ebpf"
)

// A restarted agent adopts what its predecessor pinned: same program, same
// link, same map, and the hook never went empty.
func TestAgentRestartAdoptsPins(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	p := counter("restart-counter", s.Example, nil)
	if err := s.Client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, s.Client, p.Name)
	before := nodeEntry(t, s.Client, got.UID)

	if err := s.RestartAgent(); err != nil {
		t.Fatal(err)
	}
	// The new agent applies its whole node in one pass: once a program
	// created after the restart is Ready, the first one was adopted or
	// reloaded by then.
	probe := counter("restart-probe", s.Example, nil)
	if err := s.Client.Create(ctx, probe); err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Client, probe.Name)
	after := nodeEntry(t, s.Client, got.UID)
	linkBefore, linkAfter := linkOn(t, before, "main").LinkID, linkOn(t, after, "main").LinkID
	if after.ProgramID != before.ProgramID || linkAfter != linkBefore || after.Objects.MapIDs["counts"] != before.Objects.MapIDs["counts"] {
		t.Fatalf("restart reloaded the program: before prog=%d link=%d map=%d, after prog=%d link=%d map=%d",
			before.ProgramID, linkBefore, before.Objects.MapIDs["counts"], after.ProgramID, linkAfter, after.Objects.MapIDs["counts"])
	}
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(before.ProgramID))
	if err != nil {
		t.Fatalf("program %d is gone from the kernel after the restart: %v", before.ProgramID, err)
	}
	prog.Close()
	for _, o := range []*string{&p.Name, &probe.Name} {
		cur := waitReady(t, s.Client, *o)
		if err := s.Client.Delete(ctx, cur); err != nil {
			t.Fatal(err)
		}
		waitGone(t, s.Client, *o)
	}
}
