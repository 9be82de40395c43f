package v1alpha1

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// KernelObjects are the links and maps of a program on a node, with their
// kernel IDs. In a report they are one string, one object after another:
//
//	link main 1002 syscalls/sys_enter_openat; map counts 1001
//
// (kind, name, ID, for a link its detail; a name or detail holding a space,
// a semicolon or a quote is quoted, as in Go). One string rather than a
// list of objects: each JSON value of a report costs the API server on
// every write, and the operator reads none of these (BenchmarkSetWrite).
// +kubebuilder:validation:Type=string
type KernelObjects struct {
	// Links of the program, one per attach target (e.g. per interface),
	// by target.
	Links []LinkStatus `json:"-"`
	// MapIDs by map name.
	MapIDs map[string]uint32 `json:"-"`
}

// IsZero reports whether there are no objects (omitzero).
func (k KernelObjects) IsZero() bool { return len(k.Links) == 0 && len(k.MapIDs) == 0 }

// String is the report's form of k: links by target, maps by name.
func (k KernelObjects) String() string {
	var items []string
	for _, l := range slices.SortedFunc(slices.Values(k.Links), func(a, b LinkStatus) int { return strings.Compare(a.Target, b.Target) }) {
		item := "link " + word(l.Target) + " " + strconv.FormatUint(uint64(l.LinkID), 10)
		if l.Detail != "" {
			item += " " + word(l.Detail)
		}
		items = append(items, item)
	}
	for _, name := range slices.Sorted(maps.Keys(k.MapIDs)) {
		items = append(items, "map "+word(name)+" "+strconv.FormatUint(uint64(k.MapIDs[name]), 10))
	}
	return strings.Join(items, "; ")
}

// word is s as one word: quoted if it holds a space, a semicolon or a quote
// (or is empty).
func word(s string) string {
	if s == "" || strings.ContainsAny(s, " ;\"\t\n") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}

// ParseKernelObjects reads the report's form of the objects. What does not
// parse is left out: a report comes from a node's agent, and one it cannot
// read must not fail the decoding of every report (an informer's list).
func ParseKernelObjects(s string) KernelObjects {
	var k KernelObjects
	for _, item := range splitItems(s) {
		if len(item) < 3 {
			continue
		}
		id, err := strconv.ParseUint(item[2], 10, 32)
		if err != nil {
			continue
		}
		switch item[0] {
		case "link":
			l := LinkStatus{Target: item[1], LinkID: uint32(id)}
			if len(item) > 3 {
				l.Detail = item[3]
			}
			k.Links = append(k.Links, l)
		case "map":
			if k.MapIDs == nil {
				k.MapIDs = map[string]uint32{}
			}
			k.MapIDs[item[1]] = uint32(id)
		}
	}
	return k
}

// splitItems cuts s into items at semicolons, and each item into words.
func splitItems(s string) [][]string {
	var items [][]string
	var item []string
	for s = strings.TrimLeft(s, " "); s != ""; s = strings.TrimLeft(s, " ") {
		switch {
		case s[0] == ';':
			items, item, s = append(items, item), nil, s[1:]
			continue
		case s[0] == '"':
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return append(items, item)
			}
			w, _ := strconv.Unquote(q)
			item, s = append(item, w), s[len(q):]
			continue
		}
		end := strings.IndexAny(s, " ;")
		if end < 0 {
			end = len(s)
		}
		item, s = append(item, s[:end]), s[end:]
	}
	return append(items, item)
}

// MarshalJSON writes the report's form, a JSON string.
func (k KernelObjects) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// UnmarshalJSON reads the report's form. It fails only on a value that is
// not a string, which the API server refuses.
func (k *KernelObjects) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	*k = ParseKernelObjects(s)
	return nil
}
