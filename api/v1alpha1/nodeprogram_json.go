package v1alpha1

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"unique"
	"unsafe"

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
	return unmarshalEntries(data, (*[]NodeProgram)(l), decodedEntries.decode)
}

// NodeProgramStatusEntries are the programs of a NodeProgramReport, stored
// one JSON string per entry.
type NodeProgramStatusEntries []NodeProgramStatus

// MarshalJSON encodes each entry as one JSON string (see above).
func (l NodeProgramStatusEntries) MarshalJSON() ([]byte, error) { return marshalEntries(l) }

// UnmarshalJSON decodes the entries, strings or objects; an entry that
// does not decode reads as Failed (NodeProgramStatus.UnmarshalJSON).
func (l *NodeProgramStatusEntries) UnmarshalJSON(data []byte) error {
	return unmarshalEntries(data, (*[]NodeProgramStatus)(l), func(s *NodeProgramStatus, raw []byte) error {
		return unmarshalEntry(raw, s, (*NodeProgramStatus).UnmarshalJSON)
	})
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
		p.Invalid = fmt.Sprintf("the entry does not decode: %v", err)
	}
	p.intern()
	return nil
}

// intern makes the entry share its strings with every other entry of the
// same program: an informer holds one entry per program per node (100,000
// at 1,000 nodes), and its UID, kind, name, image and program name are the
// same in each.
func (p *NodeProgram) intern() {
	p.UID = intern(p.UID)
	p.Kind, p.Name, p.Image, p.Path = intern(p.Kind), intern(p.Name), intern(p.Image), intern(p.Path)
	p.PullPolicy, p.ProgramName = intern(p.PullPolicy), intern(p.ProgramName)
	p.Attach.intern()
	for i := range p.Programs {
		p.Programs[i].Name = intern(p.Programs[i].Name)
		p.Programs[i].Attach.intern()
	}
}

// intern makes the attach point share its hook and settings with every
// other of the same text: an application of five programs on a thousand
// nodes holds five thousand of them.
func (a *AttachPoint) intern() {
	a.Hook = intern(a.Hook)
	a.Settings.Raw = internBytes(a.Settings.Raw)
}

// internBytes is b's canonical copy. It is shared: nothing may write it
// (a decoded object's attach settings are only read, and DeepCopy copies
// them).
func internBytes(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	s := unique.Make(string(b)).Value()
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// intern is s's canonical copy.
func intern[S ~string](s S) S {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
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
		s.State, s.Reason, s.Terminal = StateFailed, ReasonInvalidReport, false
		s.Message = fmt.Sprintf("the node's agent reported an entry that does not decode: %v", err)
	}
	s.UID, s.State, s.Reason = intern(s.UID), intern(s.State), intern(s.Reason)
	for i := range s.Programs {
		p := &s.Programs[i]
		p.Name, p.State, p.Message = intern(p.Name), intern(p.State), intern(p.Message)
	}
	return nil
}

// marshalEntries encodes entries as a JSON list of strings, each holding
// one entry's JSON object.
func marshalEntries[E any](entries []E) ([]byte, error) {
	if entries == nil {
		return []byte("null"), nil
	}
	var out bytes.Buffer
	out.WriteByte('[')
	for i := range entries {
		if i > 0 {
			out.WriteByte(',')
		}
		if err := appendEntry(&out, &entries[i]); err != nil {
			return nil, err
		}
	}
	out.WriteByte(']')
	return out.Bytes(), nil
}

// appendEntry appends entry to out as one JSON string holding its JSON
// object.
func appendEntry[E any](out *bytes.Buffer, entry *E) error {
	object, err := encode(entry)
	if err != nil {
		return err
	}
	str, err := encode(string(object))
	out.Write(str)
	return err
}

// encode is v's JSON, HTML characters unescaped (they are not HTML).
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := stdjson.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// unmarshalEntries decodes a JSON list of entries, each a JSON string
// holding an object or (as stored before) the object itself, into out,
// each by decode, given the entry as the list holds it (unmarshalEntry
// with the entry's lenient UnmarshalJSON, which never fails).
func unmarshalEntries[E any](data []byte, out *[]E, decode func(*E, []byte) error) error {
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
		if err := decode(&entries[i], r); err != nil {
			return err
		}
	}
	*out = entries
	return nil
}

// unmarshalEntry decodes one entry, a JSON string holding an object or
// the object itself, into out by decode.
func unmarshalEntry[E any](data []byte, out *E, decode func(*E, []byte) error) error {
	if len(data) > 0 && data[0] == '"' {
		var err error
		if data, err = unquote(data); err != nil {
			return err
		}
	}
	return decode(out, data)
}

// unquote is the content of the JSON string s (valid JSON: the list was
// checked as a whole). The common escapes are undone here, in one pass,
// for the entries of every set and report each informer reads; a string
// with \u escapes goes through the JSON decoder.
func unquote(s []byte) ([]byte, error) {
	s = s[1 : len(s)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		default: // \uXXXX
			var str string
			err := json.UnmarshalCaseSensitivePreserveInts(append(append([]byte{'"'}, s...), '"'), &str)
			return []byte(str), err
		}
	}
	return out, nil
}
