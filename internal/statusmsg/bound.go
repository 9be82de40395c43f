package statusmsg

import (
	"fmt"
	"unicode/utf8"
)

// Max bounds a status message, with the note of what was cut: it fits a
// condition and an Event's note.
const Max = 1024

// MaxLog bounds the verifier log a status keeps.
const MaxLog = 4096

// Bound cuts msg to at most Max bytes, keeping its head and saying how
// much it left out.
func Bound(msg string) string {
	if len(msg) <= Max {
		return msg
	}
	note := fmt.Sprintf("… (%d bytes more)", len(msg))
	cut := Max - len(note)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + fmt.Sprintf("… (%d bytes more)", len(msg)-cut)
}

// Tail cuts log to at most MaxLog bytes, keeping its end and saying how
// much it left out.
func Tail(log string) string {
	if len(log) <= MaxLog {
		return log
	}
	note := fmt.Sprintf("(%d bytes before) …", len(log))
	start := len(log) - (MaxLog - len(note))
	for start < len(log) && !utf8.RuneStart(log[start]) {
		start++
	}
	return fmt.Sprintf("(%d bytes before) …", start) + log[start:]
}
