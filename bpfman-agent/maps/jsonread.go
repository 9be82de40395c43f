package maps

import (
	"encoding/json"
	"errors"
	"fmt"
)

// jsonReader reads one JSON text value by value, without building it:
// the encoder asks for the value its BTF type expects next and writes it
// straight into the map's bytes, so that a key or value costs no
// allocation (strings and numbers are slices of the input). It accepts
// exactly what encoding/json accepts (a string that needs unescaping, or
// that is not ASCII, is unquoted by encoding/json itself); its errors are
// terse, and Encode reports encoding/json's instead when the text is not
// JSON.
type jsonReader struct {
	b     []byte
	pos   int
	depth int // of the containers skip is in
}

// maxDepth bounds the nesting skip follows, as encoding/json does.
const maxDepth = 10000

// kind is the kind of a JSON value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindObject // the reader is past the '{': read the members with member
	kindArray  // the reader is past the '[': read the elements with element
)

// token is a JSON value as the reader returns it: a scalar whole, an
// object or array by its opening only.
type token struct {
	kind kind
	// text is a number's digits or a string's contents, unescaped: a
	// slice of the input where it needs no unescaping.
	text []byte
	b    bool
}

var errSyntax = errors.New("not JSON")

func (r *jsonReader) skipSpace() {
	for r.pos < len(r.b) {
		switch r.b[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek is the next byte after white space, or 0 at the end.
func (r *jsonReader) peek() byte {
	r.skipSpace()
	if r.pos == len(r.b) {
		return 0
	}
	return r.b[r.pos]
}

// value reads the next value: a scalar, or the opening of an object or
// array.
func (r *jsonReader) value() (token, error) {
	switch c := r.peek(); {
	case c == '{':
		r.pos++
		return token{kind: kindObject}, nil
	case c == '[':
		r.pos++
		return token{kind: kindArray}, nil
	case c == '"':
		s, err := r.str()
		return token{kind: kindString, text: s}, err
	case c == '-' || c >= '0' && c <= '9':
		n, err := r.number()
		return token{kind: kindNumber, text: n}, err
	}
	return r.literal()
}

func (r *jsonReader) literal() (token, error) {
	for _, l := range []struct {
		text string
		tok  token
	}{{"true", token{kind: kindBool, b: true}}, {"false", token{kind: kindBool}}, {"null", token{kind: kindNull}}} {
		if len(r.b)-r.pos >= len(l.text) && string(r.b[r.pos:r.pos+len(l.text)]) == l.text {
			r.pos += len(l.text)
			return l.tok, nil
		}
	}
	return token{}, r.syntax()
}

func (r *jsonReader) syntax() error {
	return fmt.Errorf("%w: unexpected %.10q at offset %d", errSyntax, r.b[r.pos:], r.pos)
}

// number reads a number as JSON spells it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *jsonReader) number() ([]byte, error) {
	start := r.pos
	r.accept('-')
	if !r.accept('0') && r.digits() == 0 {
		return nil, r.syntax()
	}
	if r.accept('.') && r.digits() == 0 {
		return nil, r.syntax()
	}
	if r.accept('e') || r.accept('E') {
		if !r.accept('+') {
			r.accept('-')
		}
		if r.digits() == 0 {
			return nil, r.syntax()
		}
	}
	return r.b[start:r.pos:r.pos], nil
}

func (r *jsonReader) accept(c byte) bool {
	if r.pos < len(r.b) && r.b[r.pos] == c {
		r.pos++
		return true
	}
	return false
}

func (r *jsonReader) digits() int {
	start := r.pos
	for r.pos < len(r.b) && r.b[r.pos] >= '0' && r.b[r.pos] <= '9' {
		r.pos++
	}
	return r.pos - start
}

// str reads a string, the reader at its opening quote. Plain ASCII
// without escapes is taken as it is; anything else is unquoted by
// encoding/json, so that escapes and invalid UTF-8 read as they always
// did.
func (r *jsonReader) str() ([]byte, error) {
	start := r.pos
	plain := true
	for r.pos++; r.pos < len(r.b); r.pos++ {
		switch c := r.b[r.pos]; {
		case c == '"':
			r.pos++
			if plain {
				return r.b[start+1 : r.pos-1 : r.pos-1], nil
			}
			var s string
			if err := json.Unmarshal(r.b[start:r.pos], &s); err != nil {
				return nil, fmt.Errorf("%w: %w", errSyntax, err)
			}
			return []byte(s), nil
		case c == '\\':
			plain = false
			r.pos++ // the escaped byte cannot end the string
		case c < 0x20:
			return nil, r.syntax()
		case c >= 0x80:
			plain = false
		}
	}
	return nil, fmt.Errorf("%w: unterminated string at offset %d", errSyntax, start)
}

// next reads the separator before the next member or element of an
// object or array (closing with end): false when the container is done.
func (r *jsonReader) next(first bool, end byte) (bool, error) {
	c := r.peek()
	if c == end {
		r.pos++
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		return false, r.syntax()
	}
	r.pos++
	return true, nil
}

// member reads the name of an object's next member and its colon; ok is
// false when the object is done.
func (r *jsonReader) member(first bool) (name []byte, ok bool, err error) {
	if ok, err = r.next(first, '}'); !ok || err != nil {
		return nil, false, err
	}
	if r.peek() != '"' {
		return nil, false, r.syntax()
	}
	if name, err = r.str(); err != nil {
		return nil, false, err
	}
	if r.peek() != ':' {
		return nil, false, r.syntax()
	}
	r.pos++
	return name, true, nil
}

// element says whether an array has another element, reading the comma
// before it.
func (r *jsonReader) element(first bool) (bool, error) { return r.next(first, ']') }

// skip reads the rest of a value whose token is t, checking its syntax.
func (r *jsonReader) skip(t token) error {
	if t.kind == kindObject || t.kind == kindArray {
		if r.depth++; r.depth > maxDepth {
			return fmt.Errorf("%w: nested deeper than %d", errSyntax, maxDepth)
		}
		defer func() { r.depth-- }()
	}
	switch t.kind {
	case kindObject:
		for first := true; ; first = false {
			_, ok, err := r.member(first)
			if err != nil || !ok {
				return err
			}
			if err := r.skipValue(); err != nil {
				return err
			}
		}
	case kindArray:
		for first := true; ; first = false {
			ok, err := r.element(first)
			if err != nil || !ok {
				return err
			}
			if err := r.skipValue(); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipValue reads the next value whole, checking its syntax.
func (r *jsonReader) skipValue() error {
	t, err := r.value()
	if err != nil {
		return err
	}
	return r.skip(t)
}

// end checks that nothing but white space follows.
func (r *jsonReader) end() error {
	if r.peek() != 0 || r.pos != len(r.b) {
		return r.syntax()
	}
	return nil
}
