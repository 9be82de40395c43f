package main

import (
	"strings"
	"testing"
)

func TestReplaceSection(t *testing.T) {
	section := beginMarker + "\nnew figures\n" + endMarker + "\n"
	old := beginMarker + "\nold figures\n" + endMarker + "\n"
	for _, tc := range []struct {
		name, doc, want string
	}{{
		name: "replaces the section whole, the rest byte for byte",
		doc:  "# Benchmarks\n\nintro\n\n" + old + "\n## Later\n\ntext  \n",
		want: "# Benchmarks\n\nintro\n\n" + section + "\n## Later\n\ntext  \n",
	}, {
		name: "a section at the end, without a final newline",
		doc:  "# B\n\n" + strings.TrimSuffix(old, "\n"),
		want: "# B\n\n" + section,
	}, {
		name: "created before the first ## heading when missing",
		doc:  "# Benchmarks\n\nintro\n\n## First\n\nx\n\n## Second\n",
		want: "# Benchmarks\n\nintro\n\n" + section + "\n## First\n\nx\n\n## Second\n",
	}, {
		name: "appended to a doc without headings",
		doc:  "# Benchmarks\nintro",
		want: "# Benchmarks\nintro\n\n" + section,
	}, {
		name: "an empty doc is the section",
		doc:  "",
		want: section,
	}, {
		name: "a marker quoted inside a line is not a marker",
		doc:  "# B\n\nthe marker `" + beginMarker + "` starts it\n\n## H\n",
		want: "# B\n\nthe marker `" + beginMarker + "` starts it\n\n" + section + "\n## H\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replaceSection(tc.doc, section)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			again, err := replaceSection(got, section)
			if err != nil || again != got {
				t.Errorf("a second replacement changed the doc (%v):\n%s", err, again)
			}
		})
	}
}

func TestReplaceSectionBrokenMarkers(t *testing.T) {
	for _, doc := range []string{
		"# B\n" + beginMarker + "\nno end\n",
		"# B\n" + endMarker + "\nno begin\n",
		"# B\n" + endMarker + "\n" + beginMarker + "\n",
	} {
		if got, err := replaceSection(doc, "x"); err == nil {
			t.Errorf("replaceSection(%q) = %q, want an error (the doc must not lose text)", doc, got)
		}
	}
}
