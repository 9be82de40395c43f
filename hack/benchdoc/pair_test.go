package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestRows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		metrics string // "value unit" pairs
		want    []string
	}{{
		name:    "a ratio metric pairs a figure with its raw baseline",
		metrics: "45123456 ns/op 41.3 ready-ms/op 1.08 raw-ms/op 38.24 ready/raw",
		want:    []string{"ns/op", "ready-ms/op vs raw-ms/op = 38.24 by ready/raw"},
	}, {
		name:    "one baseline for several figures, its name longer than the ratio's",
		metrics: "1 ns/op 31.8 baseline-rss-MiB 0.12 operator-0-cpu-% 52.5 operator-0-rss-MiB 1.651 operator-0-rss/baseline 55.5 agent-0-rss-MiB 1.745 agent-0-rss/baseline",
		want: []string{"ns/op", "operator-0-cpu-%", "operator-0-rss-MiB vs baseline-rss-MiB = 1.651 by operator-0-rss/baseline",
			"agent-0-rss-MiB vs baseline-rss-MiB = 1.745 by agent-0-rss/baseline"},
	}, {
		name:    "a baseline named raw, kernel, baseline or bare without a ratio: computed",
		metrics: "1 ns/op 242 apply-ms/op 30 kernel-ms/op 413223 entries/s",
		want:    []string{"ns/op", "apply-ms/op vs kernel-ms/op = 8.067", "entries/s"},
	}, {
		name:    "no baseline: every metric on its own",
		metrics: "1 ns/op 51.4 converge-s 1 spec-writes/node 1 status-writes/node 34 apiserver-ms/write 3912 entries/s",
		want:    []string{"ns/op", "converge-s", "spec-writes/node", "status-writes/node", "apiserver-ms/write", "entries/s"},
	}, {
		name:    "a ratio whose baseline is missing stays a metric of its own",
		metrics: "70.1 signed-ms/op 1.19 signed/plain",
		want:    []string{"signed-ms/op", "signed/plain"},
	}, {
		name:    "baselines that say what they measure pair only with figures of that measure",
		metrics: "43.3 baseline-binary-MiB 32.2 baseline-rss-MiB 36.7 agent-0-rss-MiB 1.14 agent-0-rss/baseline 50.1 agent-binary-MiB",
		want: []string{"agent-0-rss-MiB vs baseline-rss-MiB = 1.14 by agent-0-rss/baseline",
			"agent-binary-MiB vs baseline-binary-MiB = 1.157"},
	}, {
		name:    "a ratio with two candidate baselines pairs nothing",
		metrics: "5 a-ms 1 b-x-ms 2 b-y-ms 5 a/b",
		want:    []string{"a-ms", "b-x-ms", "b-y-ms", "a/b"},
	}, {
		name:    "units differ: no pair",
		metrics: "5 a-ms 1 raw-s 5 a/raw",
		want:    []string{"a-ms", "raw-s", "a/raw"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range rows(metrics(t, tc.metrics)) {
				got = append(got, rowString(r))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func metrics(t *testing.T, s string) []Metric {
	t.Helper()
	_, ms, ok := parseResults("1 " + s)
	if !ok {
		t.Fatalf("bad metrics %q", s)
	}
	return ms
}

func rowString(r Row) string {
	if r.Base == nil {
		return r.Unit
	}
	s := fmt.Sprintf("%s vs %s = %.4g", r.Unit, r.Base.Unit, r.Ratio)
	if r.By != "" {
		s += " by " + r.By
	}
	return s
}
