// Command schemaless makes a field of a CRD, or the items of a list,
// schemaless: the API server neither checks nor prunes them. The fields it
// is run on hold entries that are each one JSON string (their Go type's
// MarshalJSON; see api/v1alpha1/nodeprogram_json.go), and entries stored
// as objects before that still validate. controller-gen cannot say this of
// a field of a struct type (its markers give it the struct's properties),
// so `make manifests` runs this after it, with the field's path and the
// CRD files:
//
//	go run ./hack/schemaless spec.programs config/crd/bases/bpfleet.io_nodeprogramsets.yaml
//
// The field (or the items) keep their description. Why a field is
// schemaless is said on it in api/.
package main

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: schemaless PATH CRD-FILE...")
		os.Exit(2)
	}
	for _, file := range os.Args[2:] {
		if err := rewrite(file, os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "schemaless:", err)
			os.Exit(1)
		}
	}
}

// rewrite makes the field at path (or its items, if it is a list)
// schemaless, in every version of the CRD in file.
func rewrite(file, path string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	versions, _ := at(crd, "spec", "versions").([]any)
	if len(versions) == 0 {
		return fmt.Errorf("%s: no versions", file)
	}
	for _, v := range versions {
		if err := schemaless(v, path); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	return os.WriteFile(file, append([]byte("---\n"), out...), 0o644)
}

// schemaless replaces the schema of the field at path (dotted property
// names) in version v, or of its items if it is a list, by one that takes
// any JSON value.
func schemaless(v any, path string) error {
	keys := []string{"schema", "openAPIV3Schema"}
	for _, name := range strings.Split(path, ".") {
		keys = append(keys, "properties", name)
	}
	last := len(keys) - 1
	parent, ok := at(v, keys[:last]...).(map[string]any)
	field, _ := parent[keys[last]].(map[string]any)
	if !ok || field == nil {
		return fmt.Errorf("no field %s", path)
	}
	if field["type"] == "array" {
		parent, keys[last], field = field, "items", field["items"].(map[string]any)
	}
	parent[keys[last]] = map[string]any{
		"description":                          field["description"],
		"x-kubernetes-preserve-unknown-fields": true,
	}
	return nil
}

// at is the value at keys in nested maps, nil if there is none.
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
