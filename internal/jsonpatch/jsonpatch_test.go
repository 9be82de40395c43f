package jsonpatch

import (
	"encoding/json"
	"testing"
)

// A patch is the JSON of its operations, whether a value is given as Go
// values or as JSON already encoded: what json.Marshal of the operations
// says, byte for byte (the raw values are written as they are, not
// scanned again; this checks the output did not change, not the speed).
func TestPatchIsItsOpsJSON(t *testing.T) {
	entries := []string{`{"uid":"u","name":"<a&b>"}`}
	raw, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	ops := []Op{Add("/spec/scheduled", true), Add("/spec/programs", json.RawMessage(raw)), Add("/spec/withheld", entries)}
	want, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := Patch(ops...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := patch.Data(nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("patch\n%s\nwant\n%s", got, want)
	}
	var decoded []map[string]any
	if err := json.Unmarshal(got, &decoded); err != nil || len(decoded) != 3 {
		t.Errorf("patch %s does not decode as three operations: %v", got, err)
	}
}
