package programs

import "strings"

// Revision names what defines a loaded program: a new one replaces the
// running one. Its String names the revision's pin directory.
type Revision struct {
	// Code hashes what is loaded: the object, the programs in it, its
	// constants and its map settings.
	Code string
	// Links names the hook settings of its programs' links (XDP mode, TCX
	// direction and order; see attach.Hook.LinkKey), or "". Each program
	// says its own (Attachment.LinkKey), which decides whether its links
	// move in place; a revision pinned before applications had one program,
	// whose LinkKey was its Links part.
	Links string
}

// String is the revision's directory name: "<code>-<links>", or the code
// alone without links. Both parts are filename-safe hex.
func (r Revision) String() string {
	if r.Links == "" {
		return r.Code
	}
	return r.Code + "-" + r.Links
}

// ParseRevision reads a directory name String wrote.
func ParseRevision(name string) Revision {
	code, links, _ := strings.Cut(name, "-")
	return Revision{Code: code, Links: links}
}
