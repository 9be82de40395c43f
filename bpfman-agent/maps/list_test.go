package maps

import (
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	got, err := ParseList([]byte(` [ {"key": {"addr": "10.0.0.1"}, "value": {}}, {"value": 2, "key": "0x01000000"} ] `))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0].Key) != `{"addr": "10.0.0.1"}` || string(got[1].Value) != `2` {
		t.Fatalf("got %q", got)
	}
	if got, err := ParseList([]byte(`[]`)); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %v %v", got, err)
	}
}

func TestParseListErrors(t *testing.T) {
	for in, want := range map[string]string{
		``:                                       "entries list: EOF",
		`{"key": 1, "value": 1}`:                 `want "["`,
		`[{"key": 1, "value": 1}`:                "entries list",
		`[{"key": 1}]`:                           `entry 0: no "value"`,
		`[{"key": 1, "value": 1}, {"value": 1}]`: `entry 1: no "key"`,
		`[{"key": null, "value": 1}]`:            `entry 0: no "key"`,
		`[{"key": 1, "value": 1, "val": 2}]`:     `entry 0: json: unknown field "val"`,
		`[1]`:                                    "entry 0: got 1, want an object",
		`[{"key": 1, "value": 1}] [`:             "data after the closing ]",
	} {
		_, err := ParseList([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseList(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}
