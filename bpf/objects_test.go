package bpf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestObjectsUpToDate(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		t.Fatal("clang is needed to check the committed BPF objects: run hack/install-deps.sh")
	}
	out := t.TempDir()
	cmd := exec.Command("../hack/gen-bpf.sh", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/gen-bpf.sh: %v\n%s", err, msg)
	}
	committed := map[string][]byte{"reject.o": Reject, "tracepoint_counter_bpfeb.o": TracepointCounterBigEndian, "map_count.o": MapCount,
		"percpu_counter.o": PerCPUCounter,
		"libbpf_pinned.o": LibbpfPinned, "libbpf_globals.o": LibbpfGlobals, "libbpf_kconfig.o": LibbpfKconfig,
		"libbpf_sections.o": LibbpfSections, "app_counter.o": AppCounter}
	for _, ex := range Examples {
		committed[ex.File] = ex.Object
	}
	for name, committed := range committed {
		fresh, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("bpf/%s is stale: run make generate", name)
		}
	}
}
