package main

import (
	"errors"
	"strings"
)

// The markers around the generated section: fixed lines, which the
// section's text includes.
const (
	beginMarker = "<!-- BEGIN GENERATED: make bench (hack/benchdoc); do not edit by hand -->"
	endMarker   = "<!-- END GENERATED: make bench -->"
)

// replaceSection returns doc with section in place of the text between
// the markers (markers included). A doc without them gets the section
// before its first "## " heading, or at its end; the rest of doc is kept
// byte for byte.
func replaceSection(doc, section string) (string, error) {
	begin := markerAt(doc, beginMarker)
	end := markerAt(doc, endMarker)
	switch {
	case begin >= 0 && end > begin:
		stop := end + len(endMarker)
		if stop < len(doc) && doc[stop] == '\n' {
			stop++
		}
		return doc[:begin] + section + doc[stop:], nil
	case begin >= 0 || end >= 0:
		return "", errors.New("docs: one generated-section marker without the other, or in the wrong order: fix the markers by hand")
	}
	if at := strings.Index(doc, "\n## "); at >= 0 {
		return doc[:at+1] + section + "\n" + doc[at+1:], nil
	}
	if doc != "" && !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	if doc != "" {
		doc += "\n"
	}
	return doc + section, nil
}

// markerAt is the offset of marker standing on a line of its own, or -1.
func markerAt(doc, marker string) int {
	for from := 0; ; {
		i := strings.Index(doc[from:], marker)
		if i < 0 {
			return -1
		}
		i += from
		startsLine := i == 0 || doc[i-1] == '\n'
		stop := i + len(marker)
		endsLine := stop == len(doc) || doc[stop] == '\n'
		if startsLine && endsLine {
			return i
		}
		from = stop
	}
}
