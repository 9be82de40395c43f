package maps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// listEntry is one element of an entries list.
type listEntry struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

// ParseList parses an entries list as an entries artifact holds it: a
// JSON array of {"key": …, "value": …}, the shape of a MapPolicy's
// spec.entries. Keys and values stay raw JSON; Apply types them through the
// map's BTF. An element without a key or value, with another field, or
// anything after the array is an error naming the element.
func ParseList(b []byte) ([]Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var out []Entry
	for i := 0; dec.More(); i++ {
		e, err := decodeEntry(dec)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		out = append(out, e)
	}
	if err := expectDelim(dec, ']'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("entries list: data after the closing ]")
	}
	return out, nil
}

func decodeEntry(dec *json.Decoder) (Entry, error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return Entry{}, err
	}
	if raw[0] != '{' {
		return Entry{}, fmt.Errorf(`got %.20s, want an object {"key": …, "value": …}`, raw)
	}
	obj := json.NewDecoder(bytes.NewReader(raw))
	obj.DisallowUnknownFields()
	var le listEntry
	if err := obj.Decode(&le); err != nil {
		return Entry{}, err
	}
	switch {
	case isAbsent(le.Key):
		return Entry{}, errors.New(`no "key"`)
	case isAbsent(le.Value):
		return Entry{}, errors.New(`no "value"`)
	}
	return Entry{Key: le.Key, Value: le.Value}, nil
}

func isAbsent(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("entries list: %w", err)
	}
	if tok != want {
		return fmt.Errorf("entries list: got %v, want %q", tok, string(want))
	}
	return nil
}
