package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/bpfleet/bpfleet/internal/images"
)

// The built agent turns heap profiling off before the packages that
// allocate most at init run (internal/memprofile): with the runtime's
// default sampling, the table of sampled stacks held about 2 MiB of the
// idle agent's resident memory. GODEBUG=inittrace=1 prints each package's
// init, in order, with the bytes it allocated.
func TestHeapProfilingOffFromTheStart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bpfman-agent")
	if out, err := exec.Command("go", "build", "-tags", images.BuildTags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-help")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, _ := cmd.CombinedOutput() // -help exits 0 or 2 by Go version
	line := regexp.MustCompile(`(?m)^init (\S+) @[^,]*, [^,]*, (\d+) bytes`)
	var before, after int
	seen := false
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[2])
		switch {
		case m[1] == "github.com/bpfleet/bpfleet/internal/memprofile":
			seen = true
		case seen:
			after += n
		default:
			before += n
		}
	}
	if !seen {
		t.Fatalf("no init of internal/memprofile in the agent's init trace:\n%s", out)
	}
	t.Logf("allocated at init: %d bytes before heap profiling was off, %d after", before, after)
	if before > after/10 {
		t.Errorf("%d bytes allocated at init before heap profiling was turned off, against %d after: it comes too late", before, after)
	}
}
