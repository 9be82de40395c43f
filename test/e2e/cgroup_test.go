package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// A CgroupProgram on a cgroup of its own counts the packets its processes
// send, and leaves no pin behind when deleted.
func TestCgroupCountsEgress(t *testing.T) {
	s := startStack(t)
	root := attach.ReadFacts().Cgroup2
	if root == "" {
		t.Fatal("no cgroup v2 hierarchy mounted: CgroupPrograms cannot be tested here")
	}
	dir, err := os.MkdirTemp(root, "bpfleet-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	p := &bpfleetv1.CgroupProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "cgroup-e2e"},
		Spec: bpfleetv1.CgroupProgramSpec{
			ProgramCommon: common(s, "cgroup-counter", "cgroup_skb_count"),
			Cgroup:        bpfleetv1.CgroupAttach{Path: "/" + filepath.Base(dir), Type: "egress"},
		},
	}
	st := apply(t, s, p)
	if l := linkOn(t, st, attach.MainTarget); l.LinkID == 0 || l.Detail != "cgroup "+dir+" egress" {
		t.Errorf("link %+v, want one on %s egress", l, dir)
	}
	script := `echo $$ > ` + filepath.Join(dir, "cgroup.procs") + `; for i in 1 2 3 4 5; do echo x > /dev/udp/127.0.0.1/9; done`
	if out, err := exec.Command("bash", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sender: %v\n%s", err, out)
	}
	if n := testkernel.MapValue(t, st.Objects.MapIDs["packets"], uint32(0)); n < 5 {
		t.Errorf("counted %d packets sent from the cgroup, want at least 5", n)
	}
	deleteAndWait(t, s.Client, p)
	if _, err := os.Stat(st.PinPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin %s after delete: %v, want it gone", st.PinPath, err)
	}
}
