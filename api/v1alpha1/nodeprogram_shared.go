package v1alpha1

import (
	"sync"
	"sync/atomic"
)

// decodedEntries shares the set entries the operator's informer decodes:
// every node that runs a program at a generation gets the same entry, so
// a thousand nodes' sets hold a thousand copies of each entry's text. The
// first is decoded; the others are copies of it, which share its lists
// and maps (an application's programs and their settings, its globals,
// maps and signature policies) instead of holding and decoding their own.
// Like the interned settings (AttachPoint.intern), a decoded entry's lists
// and maps are only read (DeepCopy copies them).
//
// Only a process that calls ShareDecodedEntries shares them (the
// operator): a node agent decodes its own set, whose entries are all
// different, and would only hold their texts a second time.
var decodedEntries = entryCache{limit: 4096}

// ShareDecodedEntries makes this process's decoding of set entries share
// the entries decoded from the same text (see decodedEntries). The
// operator calls it.
func ShareDecodedEntries() { decodedEntries.on.Store(true) }

// entryCache holds decoded entries by their text, up to limit of them: a
// cluster holds a few per program (one per generation its nodes run),
// and entries that each node has alone (none the operator writes today)
// empty it when it is full rather than grow it.
type entryCache struct {
	on     atomic.Bool
	limit  int
	mu     sync.Mutex
	byText map[string]NodeProgram
}

// decode decodes into p the entry data, as a set's list holds it (a JSON
// string holding the entry's object, or the object), or copies the entry
// decoded from the same text before.
func (c *entryCache) decode(p *NodeProgram, data []byte) error {
	if !c.on.Load() {
		return unmarshalEntry(data, p, (*NodeProgram).UnmarshalJSON)
	}
	if c.get(p, data) {
		return nil
	}
	if err := unmarshalEntry(data, p, (*NodeProgram).UnmarshalJSON); err != nil {
		return err
	}
	c.put(data, *p)
	return nil
}

// get copies into p the entry decoded from data, if it holds one.
func (c *entryCache) get(p *NodeProgram, data []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	np, ok := c.byText[string(data)]
	if ok {
		*p = np
	}
	return ok
}

// put holds np as the entry decoded from data.
func (c *entryCache) put(data []byte, np NodeProgram) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byText == nil || len(c.byText) >= c.limit {
		c.byText = make(map[string]NodeProgram, min(c.limit, 64))
	}
	c.byText[string(data)] = np
}
