// Package jsonpatch builds RFC 6902 JSON patches. bpfleet writes each
// per-node object's lists whole; a JSON patch says so, and the API server
// applies it without the whole-object merge a merge patch costs
// (docs/benchmarks.md, "Scale").
package jsonpatch

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// Patch is ops, in order, as one patch. A value that is a
// json.RawMessage is written as it is, not checked and compacted again
// (a node's set is written whole, and encoding/json scans a raw value
// once more on each Marshal): it must be compact JSON.
func Patch(ops ...Op) (client.Patch, error) {
	data := []byte{'['}
	for i, op := range ops {
		if i > 0 {
			data = append(data, ',')
		}
		var err error
		if data, err = op.append(data); err != nil {
			return nil, fmt.Errorf("json patch: %w", err)
		}
	}
	return client.RawPatch(types.JSONPatchType, append(data, ']')), nil
}

// append appends op's JSON object to data.
func (op Op) append(data []byte) ([]byte, error) {
	var err error
	data = append(data, `{"op":`...)
	if data, err = appendJSON(data, op.Op); err != nil {
		return nil, err
	}
	data = append(data, `,"path":`...)
	if data, err = appendJSON(data, op.Path); err != nil {
		return nil, err
	}
	data = append(data, `,"value":`...)
	if raw, ok := op.Value.(json.RawMessage); ok {
		data = append(data, raw...)
	} else if data, err = appendJSON(data, op.Value); err != nil {
		return nil, err
	}
	return append(data, '}'), nil
}

// appendJSON appends v's JSON to data.
func appendJSON(data []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(data, b...), err
}

// Send applies patch to the object of kind gvk named by key and returns
// the patched object's metadata only: the API server sends, and the
// client decodes, neither spec nor status (for a node's set or report,
// every entry of every program, which the writer already has and its
// informers receive anyway).
func Send(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key client.ObjectKey, patch client.Patch) (*metav1.ObjectMeta, error) {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(gvk)
	meta.Name, meta.Namespace = key.Name, key.Namespace
	if err := c.Patch(ctx, meta, patch); err != nil {
		return nil, err
	}
	meta.ManagedFields = nil
	return &meta.ObjectMeta, nil
}
