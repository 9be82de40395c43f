package buildinfo

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStampedBuild(t *testing.T) {
	if got := (Stamp{}).LDFlags(); got != "" {
		t.Errorf("an empty stamp's flags: %q", got)
	}
	flags := Stamp{Version: "v0.3.0", Revision: "1a2b3c4d5e6f7a8b-dirty"}.LDFlags()
	if flags != "-X github.com/bpfleet/bpfleet/internal/buildinfo.version=v0.3.0 -X github.com/bpfleet/bpfleet/internal/buildinfo.revision=1a2b3c4d5e6f7a8b-dirty" {
		t.Errorf("flags: %q", flags)
	}
	version, revision = "v0.3.0", "1a2b3c4d5e6f7a8b-dirty" // as the linker writes them
	t.Cleanup(func() { version, revision = "", "" })
	i := Get()
	if i.Version != "v0.3.0" || i.Revision != "1a2b3c4d5e6f7a8b" || !i.Modified || i.GoVersion != runtime.Version() {
		t.Fatalf("Get() = %+v", i)
	}
	want := "v0.3.0 (revision 1a2b3c4d5e6f, modified, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if i.String() != want {
		t.Errorf("String() = %q, want %q", i.String(), want)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(i.Collector("bpfleet_test_build_info", "test"))
	expected := `# HELP bpfleet_test_build_info test
# TYPE bpfleet_test_build_info gauge
bpfleet_test_build_info{goversion="` + runtime.Version() + `",revision="1a2b3c4d5e6f7a8b",version="v0.3.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected)); err != nil {
		t.Error(err)
	}
}

// A build from a checkout without stamps still says its Go version and
// platform, and "(devel)".
func TestUnstampedBuild(t *testing.T) {
	i := Get()
	if i.Version == "" || i.GoVersion != runtime.Version() || !strings.HasPrefix(i.String(), i.Version+" (") {
		t.Errorf("Get() = %+v, %q", i, i)
	}
}
