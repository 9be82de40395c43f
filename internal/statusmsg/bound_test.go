package statusmsg_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bpfleet/bpfleet/internal/statusmsg"
)

func TestBound(t *testing.T) {
	for _, n := range []int{statusmsg.Max + 1, 100_000, 1_000_000} {
		long := strings.Repeat("prog_ü, ", n/9+1)
		got := statusmsg.Bound(long)
		if len(got) > statusmsg.Max || !utf8.ValidString(got) || !strings.HasSuffix(got, "bytes more)") || !strings.HasPrefix(got, "prog_ü, ") {
			t.Errorf("%d bytes: bound to %d bytes, ending %q", len(long), len(got), got[max(0, len(got)-40):])
		}
	}
	if fits := strings.Repeat("x", statusmsg.Max); statusmsg.Bound(fits) != fits {
		t.Error("a message that fits was changed")
	}
}

func TestTail(t *testing.T) {
	log := strings.Repeat("0: (b7) r0 = ü\n", 10_000) + "R1 invalid mem access 'scalar'"
	got := statusmsg.Tail(log)
	if len(got) > statusmsg.MaxLog || !utf8.ValidString(got) || !strings.HasSuffix(got, "invalid mem access 'scalar'") || !strings.HasPrefix(got, "(") {
		t.Errorf("tail of %d bytes, starting %q", len(got), got[:min(40, len(got))])
	}
	if short := "R1 invalid"; statusmsg.Tail(short) != short {
		t.Error("a log that fits was changed")
	}
}
