package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The agent links no API server machinery: every package linked is code
// mapped into each node's memory. k8s.io/apiserver came with
// controller-runtime's metrics filters and brought CEL, OpenTelemetry and
// gRPC: a third of the binary, for two HTTP calls (internal/scrape makes
// them itself).
func TestAgentLinksNoAPIServerMachinery(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/apiserver/", "github.com/google/cel-go/", "go.opentelemetry.io/", "google.golang.org/grpc"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("the agent links %s", pkg)
			}
		}
	}
}
