// Command schemaless makes the items of a list in a CRD schemaless: the
// API server neither checks nor prunes them. The lists it is run on hold
// entries that are each one JSON string (their Go type's MarshalJSON; see
// api/v1alpha1/nodeprogram_json.go), and entries stored as objects before
// that still validate. controller-gen cannot say this of a list of a
// struct type (its markers give the items the struct's properties), so
// `make manifests` runs this after it, with the CRD file and the list's
// path:
//
//	go run ./hack/schemaless config/crd/bases/bpfleet.io_nodeprogramsets.yaml spec.programs
//
// The items keep their description (the struct's doc comment). Why a list
// is schemaless is said on its field in api/.
package main

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: schemaless CRD-FILE PATH...")
		os.Exit(2)
	}
	if err := rewrite(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "schemaless:", err)
		os.Exit(1)
	}
}

// rewrite makes the items of the list at each path schemaless, in every
// version of the CRD in file.
func rewrite(file string, paths []string) error {
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
		for _, path := range paths {
			if err := itemsSchemaless(v, path); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
		}
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	return os.WriteFile(file, append([]byte("---\n"), out...), 0o644)
}

// itemsSchemaless replaces the items' schema of the list at path (dotted
// property names) in version v by one that takes any JSON value.
func itemsSchemaless(v any, path string) error {
	keys := []string{"schema", "openAPIV3Schema"}
	for _, name := range strings.Split(path, ".") {
		keys = append(keys, "properties", name)
	}
	list, ok := at(v, keys...).(map[string]any)
	if !ok || list["type"] != "array" {
		return fmt.Errorf("%s is not a list", path)
	}
	items, _ := list["items"].(map[string]any)
	list["items"] = map[string]any{
		"description":                          items["description"],
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
