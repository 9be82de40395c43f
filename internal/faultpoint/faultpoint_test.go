package faultpoint

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in    string
		armed bool
		step  string
		nth   int64
	}{
		{"", false, "", 0},
		{"publish", true, "publish", 1},
		{"unpin#3", true, "unpin", 3},
		{"unpin#x", true, "unpin", 1},
		{"unpin#0", true, "unpin", 1},
	} {
		armed, step, nth := parse(tc.in)
		if armed != tc.armed || step != tc.step || nth != tc.nth {
			t.Errorf("parse(%q) = %v %q %d, want %v %q %d", tc.in, armed, step, nth, tc.armed, tc.step, tc.nth)
		}
	}
}

// Off, a point is a no-op: the process lives on.
func TestOffIsNoOp(t *testing.T) {
	saved := armed
	armed = false // whatever Env says for this test process
	t.Cleanup(func() { armed = saved })
	Point("publish")
}
