package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/bpfleet/bpfleet/internal/images"
)

// The agent links no API server machinery: every package linked is code
// mapped into each node's memory. k8s.io/apiserver came with
// controller-runtime's metrics filters and brought CEL and OpenTelemetry
// (internal/scrape makes the two HTTP calls it needed itself). gRPC is
// linked for the CSI driver, built with images.BuildTags so that it does
// not bring html/template, whose reflection keeps every exported method
// of every type in the binary (20 MiB).
func TestAgentLinksNoAPIServerMachinery(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", images.BuildTags, "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/apiserver/", "github.com/google/cel-go/", "go.opentelemetry.io/", "text/template", "html/template"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("the agent links %s", pkg)
			}
		}
	}
}
