package maps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ParseList parses an entries list as an entries artifact holds it: a
// JSON array of {"key": …, "value": …}, the shape of a MapPolicy's
// spec.entries. Keys and values stay raw JSON, slices of b (no copy);
// Apply types them through the map's BTF. An element without a key or
// value, with another field, or anything after the array is an error
// naming the element.
func ParseList(b []byte) ([]Entry, error) {
	r := jsonReader{b: b}
	if err := r.open("entries list"); err != nil {
		return nil, err
	}
	out := make([]Entry, 0, countHint(b, minEntry))
	for i := 0; ; i++ {
		more, err := r.element(i == 0)
		if err != nil {
			return nil, fmt.Errorf("entries list: %w", err)
		}
		if !more {
			break
		}
		e, err := r.entry()
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		out = append(out, e)
	}
	if r.end() != nil {
		return nil, errors.New("entries list: data after the closing ]")
	}
	return out, nil
}

// ParseValues parses a JSON array into its elements, raw JSON slices of b
// (no copy).
func ParseValues(b []byte) ([]json.RawMessage, error) {
	r := jsonReader{b: b}
	if err := r.open("list"); err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, countHint(b, 2))
	for first := true; ; first = false {
		more, err := r.element(first)
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		if !more {
			break
		}
		raw, err := r.raw()
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		out = append(out, raw)
	}
	if r.end() != nil {
		return nil, errors.New("list: data after the closing ]")
	}
	return out, nil
}

// open reads the opening bracket of a list (what, for errors).
func (r *jsonReader) open(what string) error {
	switch c := r.peek(); {
	case c == '[':
		r.pos++
		return nil
	case r.pos == len(r.b):
		return fmt.Errorf("%s: EOF", what)
	}
	return fmt.Errorf(`%s: got %.20q, want "["`, what, r.b[r.pos:])
}

// raw reads the next value whole, as the bytes that spell it.
func (r *jsonReader) raw() (json.RawMessage, error) {
	r.skipSpace()
	start := r.pos
	if err := r.skipValue(); err != nil {
		return nil, err
	}
	return r.b[start:r.pos:r.pos], nil
}

// entry reads an element of an entries list.
func (r *jsonReader) entry() (Entry, error) {
	r.skipSpace()
	start := r.pos
	t, err := r.value()
	if err != nil {
		return Entry{}, err
	}
	if t.kind != kindObject {
		if err := r.skip(t); err != nil {
			return Entry{}, err
		}
		return Entry{}, fmt.Errorf(`got %.20s, want an object {"key": …, "value": …}`, r.b[start:r.pos])
	}
	var e Entry
	if err := r.entryMembers(&e); err != nil {
		return Entry{}, err
	}
	switch {
	case isAbsent(e.Key):
		return Entry{}, errors.New(`no "key"`)
	case isAbsent(e.Value):
		return Entry{}, errors.New(`no "value"`)
	}
	return e, nil
}

// entryMembers reads the members of an entry's object into e. Names
// match without regard to case, as encoding/json matches fields.
func (r *jsonReader) entryMembers(e *Entry) error {
	for first := true; ; first = false {
		name, more, err := r.member(first)
		if err != nil || !more {
			return err
		}
		raw, err := r.raw()
		switch {
		case err != nil:
			return err
		case bytes.EqualFold(name, []byte("key")):
			e.Key = raw
		case bytes.EqualFold(name, []byte("value")):
			e.Value = raw
		default:
			return fmt.Errorf("json: unknown field %q", name)
		}
	}
}

func isAbsent(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// minEntry is the length of the shortest entry, {"key":0,"value":0},
// and its comma.
const minEntry = 20

// countHint is how many elements the JSON array b holds, for a slice's
// capacity: its commas outside strings and nested values, plus one, but
// no more than elements of at least minLen bytes can fill b. It does not
// check b.
func countHint(b []byte, minLen int) int {
	n, depth, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 1:
			n++
		}
	}
	return min(n+1, len(b)/minLen+1)
}
