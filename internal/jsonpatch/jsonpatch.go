// Package jsonpatch builds RFC 6902 JSON patches. bpfleet writes each
// per-node object's lists whole; a JSON patch says so, and the API server
// applies it without the whole-object merge a merge patch costs
// (docs/benchmarks.md, "Scale").
package jsonpatch

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Op is one operation of a patch.
type Op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Add sets the member at path to value, replacing what is there; the
// object holding it must exist.
func Add(path string, value any) Op { return Op{Op: "add", Path: path, Value: value} }

// Patch is ops, in order, as one patch.
func Patch(ops ...Op) (client.Patch, error) {
	data, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("json patch: %w", err)
	}
	return client.RawPatch(types.JSONPatchType, data), nil
}
