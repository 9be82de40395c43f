package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// root is the repository's root, from this package's directory.
const root = "../.."

// TestEveryKindHasACRD checks that controller-gen names each kind's CRD
// with the plural the RBAC rules use, and that the install lists every
// CRD.
func TestEveryKindHasACRD(t *testing.T) {
	for _, k := range names() {
		crd := filepath.Join(root, "config/crd/bases", "bpfleet.io_"+plural(k)+".yaml")
		if _, err := os.Stat(crd); err != nil {
			t.Errorf("%s: no CRD under its plural %s (make manifests): %v", k, plural(k), err)
		}
	}
	installed := kustomized(t, filepath.Join(root, "config/crd"))
	crds, _ := filepath.Glob(filepath.Join(root, "config/crd/bases/*.yaml"))
	for _, crd := range crds {
		if name := "bases/" + filepath.Base(crd); !slices.Contains(installed, name) {
			t.Errorf("%s is missing from the resources of config/crd/kustomization.yaml: the cluster install lacks it", name)
		}
	}
}

// TestReadmeListsEveryKind checks that README's API table has a row for
// every kind.
func TestReadmeListsEveryKind(t *testing.T) {
	listed := readmeKinds(t)
	for _, k := range names() {
		if !listed[k] {
			t.Errorf("%s is missing from README.md's table of kinds (section \"The API\")", k)
		}
	}
}

// readmeKinds returns the kinds named in the first column of the tables of
// README's section "The API".
func readmeKinds(t *testing.T) map[string]bool {
	t.Helper()
	section := readSection(t, filepath.Join(root, "README.md"), "## The API")
	listed := map[string]bool{}
	for line := range strings.Lines(section) {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || cells[0] != "" {
			continue
		}
		for _, m := range regexp.MustCompile("`(\\w+)`").FindAllStringSubmatch(cells[1], -1) {
			listed[m[1]] = true
		}
	}
	return listed
}

// readSection returns the section of a Markdown file whose heading starts
// with heading, up to the next heading of its level.
func readSection(t *testing.T, path, heading string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n"+heading)
	if !ok {
		t.Fatalf("%s: no section %q", path, heading)
	}
	level := heading[:strings.IndexByte(heading, ' ')+1]
	section, _, _ = strings.Cut(section, "\n"+level)
	return section
}

// TestEveryKindHasASample checks that every kind has a sample in
// config/samples/kinds (or, for the one `make run` applies, in
// config/samples), and that kustomize applies every sample file.
func TestEveryKindHasASample(t *testing.T) {
	sampled := map[string]bool{}
	for _, dir := range []string{"config/samples", "config/samples/kinds"} {
		for k := range sampleKinds(t, dir) {
			sampled[k] = true
		}
	}
	for _, k := range names() {
		if !sampled[k] {
			t.Errorf("%s has no sample in config/samples/kinds", k)
		}
	}
}

// sampleKinds returns the kinds of the objects in the YAML files of dir (in
// the repository), and fails the test for a file its kustomization.yaml
// does not list.
func sampleKinds(t *testing.T, dir string) map[string]bool {
	t.Helper()
	listed := kustomized(t, filepath.Join(root, dir))
	files, _ := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
	kinds := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		if name == "kustomization.yaml" {
			continue
		}
		if !slices.Contains(listed, name) {
			t.Errorf("%s is missing from the resources of %s/kustomization.yaml", name, dir)
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^kind: (\w+)\s*$`).FindAllStringSubmatch(string(raw), -1) {
			kinds[m[1]] = true
		}
	}
	return kinds
}

// kustomized returns the resources dir's kustomization.yaml lists.
func kustomized(t *testing.T, dir string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ Resources []string }
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	return k.Resources
}
