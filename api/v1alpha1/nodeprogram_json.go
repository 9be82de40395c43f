package v1alpha1

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"

	"sigs.k8s.io/json"
)

// The entries of a NodeProgramSet's spec (NodeProgramEntries) and of a
// NodeProgramReport's status (NodeProgramStatusEntries) are each stored as
// one JSON string holding the entry's fields as a JSON object (kubectl
// shows one line per program):
//
//	programs:
//	- '{"uid":"…","kind":"TracepointProgram","name":"opens","generation":1,…}'
//
// The API server decodes, prunes and coerces every value of an object on
// each write of it, and again when it reads it back from etcd: one string
// per entry instead of an object of ten-odd values cut a 100-program
// set's write from 18.7 to 6.9 ms of its CPU (docs/benchmarks.md,
// "Scale"). The lists' methods do the encoding; the entries are plain Go
// structs. Entries stored as objects (before this encoding) still decode.

// NodeProgramEntries are the programs of a NodeProgramSet, stored one JSON
// string per entry.
type NodeProgramEntries []NodeProgram

// MarshalJSON encodes each entry as one JSON string (see above).
func (l NodeProgramEntries) MarshalJSON() ([]byte, error) { return marshalEntries(l) }

// UnmarshalJSON decodes the entries, strings or objects; an entry that
// does not decode says why in its Invalid (NodeProgram.UnmarshalJSON).
func (l *NodeProgramEntries) UnmarshalJSON(data []byte) error {
	return unmarshalEntries(data, (*[]NodeProgram)(l), (*NodeProgram).invalid)
}

// NodeProgramStatusEntries are the programs of a NodeProgramReport, stored
// one JSON string per entry.
type NodeProgramStatusEntries []NodeProgramStatus

// MarshalJSON encodes each entry as one JSON string (see above).
func (l NodeProgramStatusEntries) MarshalJSON() ([]byte, error) { return marshalEntries(l) }

// UnmarshalJSON decodes the entries, strings or objects; an entry that
// does not decode reads as Failed (NodeProgramStatus.UnmarshalJSON).
func (l *NodeProgramStatusEntries) UnmarshalJSON(data []byte) error {
	return unmarshalEntries(data, (*[]NodeProgramStatus)(l), (*NodeProgramStatus).invalid)
}

// UnmarshalJSON decodes a set's entry as every client of the API does
// (case-sensitive keys, integers kept), but never fails on what the entry
// holds: the fields that decode are kept, and Invalid says what did not.
// The API server does not check the entries' fields (see
// NodeProgramSetSpec.Programs), and one error here would fail the decoding
// of the whole set, and of every list of sets an informer reads.
func (p *NodeProgram) UnmarshalJSON(data []byte) error {
	type plain NodeProgram // without this method
	*p = NodeProgram{}
	if err := json.UnmarshalCaseSensitivePreserveInts(data, (*plain)(p)); err != nil {
		p.invalid(err)
	}
	return nil
}

// invalid marks the entry as one that does not decode, for err.
func (p *NodeProgram) invalid(err error) {
	p.Invalid = fmt.Sprintf("the entry does not decode: %v", err)
}

// UnmarshalJSON decodes a report's entry, and never fails on what it
// holds: the API server does not check the entries' fields, and the
// operator reads every report through one informer, which one error would
// blind. An entry that does not decode keeps the fields that did and
// reads as Failed (ReasonInvalidReport), saying why.
func (s *NodeProgramStatus) UnmarshalJSON(data []byte) error {
	type plain NodeProgramStatus // without this method
	*s = NodeProgramStatus{}
	if err := json.UnmarshalCaseSensitivePreserveInts(data, (*plain)(s)); err != nil {
		s.invalid(err)
	}
	return nil
}

// invalid marks the entry as one that does not decode, for err.
func (s *NodeProgramStatus) invalid(err error) {
	s.State, s.Reason, s.Terminal = StateFailed, ReasonInvalidReport, false
	s.Message = fmt.Sprintf("the node's agent reported an entry that does not decode: %v", err)
}

// marshalEntries encodes entries as a JSON list of strings, each holding
// one entry's JSON object.
func marshalEntries[E any](entries []E) ([]byte, error) {
	if entries == nil {
		return []byte("null"), nil
	}
	var object, out bytes.Buffer
	objects, strings := stdjson.NewEncoder(&object), stdjson.NewEncoder(&out)
	objects.SetEscapeHTML(false)
	strings.SetEscapeHTML(false)
	out.WriteByte('[')
	for i := range entries {
		object.Reset()
		if err := objects.Encode(&entries[i]); err != nil {
			return nil, err
		}
		if i > 0 {
			out.WriteByte(',')
		}
		if err := strings.Encode(string(bytes.TrimSpace(object.Bytes()))); err != nil {
			return nil, err
		}
		out.Truncate(out.Len() - 1) // Encode's newline
	}
	out.WriteByte(']')
	return out.Bytes(), nil
}

// unmarshalEntries decodes a JSON list of entries, each a JSON string
// holding an object or (as stored before) the object itself, into out.
// An entry that is not JSON is marked by invalid; the entries' own
// UnmarshalJSON marks those that do not decode.
func unmarshalEntries[E any](data []byte, out *[]E, invalid func(*E, error)) error {
	var raw []stdjson.RawMessage
	if err := json.UnmarshalCaseSensitivePreserveInts(data, &raw); err != nil {
		return err
	}
	if raw == nil {
		*out = nil
		return nil
	}
	entries := make([]E, len(raw))
	for i, r := range raw {
		if len(r) > 0 && r[0] == '"' {
			var object string
			if err := json.UnmarshalCaseSensitivePreserveInts(r, &object); err != nil {
				return err
			}
			r = stdjson.RawMessage(object)
		}
		if err := json.UnmarshalCaseSensitivePreserveInts(r, &entries[i]); err != nil {
			invalid(&entries[i], err)
		}
	}
	*out = entries
	return nil
}
