package image

import (
	"bytes"
	"testing"
)

// FuzzReadEntries feeds the map entries reader arbitrary layers: it must
// return a JSON array within the limit or an *Error, never panic or run
// away.
func FuzzReadEntries(f *testing.F) {
	f.Add(gz(f, []byte(`[{"key": 1, "value": 2}]`)))
	f.Add([]byte(" \n[]"))
	f.Add([]byte(`{"key": 1}`))
	f.Add(gz(f, bytes.Repeat([]byte(" "), 1<<20)))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, layer []byte) {
		list, err := readEntries(layer, limit)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(list) > limit {
			t.Fatalf("list of %d bytes, over the limit", len(list))
		}
		if !bytes.HasPrefix(bytes.TrimLeft(list, " \t\r\n"), []byte("[")) {
			t.Fatalf("accepted %.20q, not a JSON array", list)
		}
	})
}
