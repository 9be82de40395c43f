package controllers

import (
	"strconv"
	"strings"
	"sync"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// reportedPrograms shares the per-program statuses of the reports the
// operator's cache holds (trimReport): an application of five programs
// Ready on a thousand nodes is reported five thousand times, and once
// trimmed every node's list says the same. The cache's objects are only
// read.
var reportedPrograms = statusLists{limit: 4096}

// statusLists holds per-program status lists by what they say, up to
// limit of them: lists that differ from node to node (failures whose
// messages name the node's own objects) empty it when it is full rather
// than grow it.
type statusLists struct {
	limit  int
	mu     sync.Mutex
	byText map[string][]bpfleetv1.ProgramAttachmentStatus
}

// share is the list held that says what list says, or list, held from
// now on.
func (c *statusLists) share(list []bpfleetv1.ProgramAttachmentStatus) []bpfleetv1.ProgramAttachmentStatus {
	if len(list) == 0 {
		return list
	}
	key, ok := statusText(list)
	if !ok {
		return list
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if held, ok := c.byText[key]; ok {
		return held
	}
	if c.byText == nil || len(c.byText) >= c.limit {
		c.byText = make(map[string][]bpfleetv1.ProgramAttachmentStatus, min(c.limit, 64))
	}
	held := make([]bpfleetv1.ProgramAttachmentStatus, len(list)) // no room to grow into
	copy(held, list)
	c.byText[key] = held
	return held
}

// statusText says what each status of list says: its program's name,
// state and message, each preceded by its length. ok is false if a
// status says more (a program ID or links, which trimReport drops): two
// lists of the same text are equal in every field
// (TestStatusTextSaysEveryField).
func statusText(list []bpfleetv1.ProgramAttachmentStatus) (text string, ok bool) {
	var b strings.Builder
	for _, p := range list {
		if p.ProgramID != 0 || p.Links != nil {
			return "", false
		}
		for _, s := range []string{p.Name, string(p.State), p.Message} {
			b.WriteString(strconv.Itoa(len(s)))
			b.WriteByte(':')
			b.WriteString(s)
		}
	}
	return b.String(), true
}
