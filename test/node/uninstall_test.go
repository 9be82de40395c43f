package node

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Uninstalling in the README's order — every bpfleet resource users made
// (programs, applications, MapPolicies) deleted and waited for, then
// `kubectl delete -k` of the install — leaves nothing: no program in the
// kernel, nothing under the agent's pin root, no bpfleet resource. The
// test installs bpfleet again afterwards for the tests that follow.
func TestUninstallInTheDocumentedOrder(t *testing.T) {
	p := applySample(t, "uninstall-counter")
	id := reportEntry(t, p.UID).ProgramID
	t.Cleanup(func() {
		if err := install.Install(context.Background(), install.Images); err != nil {
			t.Errorf("installing again: %v", err)
		}
	})

	out, err := install.Kubectl("api-resources", "--api-group=bpfleet.io", "-o", "name")
	if err != nil {
		t.Fatalf("kubectl api-resources: %v\n%s", err, out)
	}
	var kinds []string
	for _, r := range strings.Fields(out) {
		if !strings.HasPrefix(r, "nodeprogram") {
			kinds = append(kinds, r)
		}
	}
	if out, err := install.Kubectl("delete", strings.Join(kinds, ","), "--all", "--wait", "--timeout=2m"); err != nil {
		t.Fatalf("kubectl delete %s --all: %v\n%s", strings.Join(kinds, ","), err, out)
	}
	if out, err := install.Kubectl("delete", "-k", install.sub("install"), "--wait", "--timeout=3m"); err != nil {
		t.Fatalf("kubectl delete -k: %v\n%s", err, out)
	}

	if exec.Command("bpftool", "prog", "show", "id", strconv.Itoa(int(id))).Run() == nil {
		t.Errorf("program %d still loaded after the uninstall", id)
	}
	if left, err := install.outputInNamespace("sh", "-c", "ls -A /sys/fs/bpf/bpfleet 2>/dev/null || true"); err != nil || strings.TrimSpace(left) != "" {
		t.Errorf("left under the pin root: %q (%v)", left, err)
	}
	if out, _ := install.Kubectl("api-resources", "--api-group=bpfleet.io", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("bpfleet's resources still served after the uninstall: %s", out)
	}
}
