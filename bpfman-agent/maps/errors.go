package maps

import (
	"errors"
	"fmt"
)

// ErrMapFull is the failure of an entry that does not fit: the map holds
// max_entries keys already, or the policy lists more entries than that.
var ErrMapFull = errors.New("map full")

// Error is a key or value that does not encode. Field is the path to the
// part at fault: "key", "value", "key.addr", "value.rules[2]"...
type Error struct {
	Field string
	Err   error
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// EntryError is the failure of one entry of a policy, by its index.
type EntryError struct {
	Index int
	Err   error
}

func (e EntryError) Error() string { return fmt.Sprintf("entry %d: %v", e.Index, e.Err) }

func (e EntryError) Unwrap() error { return e.Err }

// within prefixes the path of err, an encoding error of the part name of
// an enclosing type, with name ("addr" + "x: bad" = "addr.x: bad").
func within(name string, err error) error {
	var e *Error
	switch {
	case !errors.As(err, &e):
		return &Error{Field: name, Err: err}
	case name == "":
		return e
	case e.Field == "":
		return &Error{Field: name, Err: e.Err}
	case e.Field[0] == '[':
		return &Error{Field: name + e.Field, Err: e.Err}
	}
	return &Error{Field: name + "." + e.Field, Err: e.Err}
}
