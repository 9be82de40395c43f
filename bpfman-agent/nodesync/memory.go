package nodesync

import (
	"runtime/debug"
	"sync"
	"time"
)

// releaseEvery spaces the returns of memory to the kernel: a burst of
// passes pays for one, the once-a-minute pass of an idle agent for each.
const releaseEvery = 10 * time.Second

// memoryRelease gives the kernel back the memory a pass freed. A pass
// builds the node's spec, report and patch anew (megabytes with a
// thousand programs), then the agent idles for a minute: without this the
// Go runtime keeps the pages it grew to until its next collection, and the
// idle agent holds several times what it uses.
type memoryRelease struct {
	mu   sync.Mutex
	last time.Time
}

// afterPass returns freed memory to the kernel, unless it did less than
// releaseEvery ago.
func (m *memoryRelease) afterPass() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.last) < releaseEvery {
		return
	}
	debug.FreeOSMemory()
	m.last = time.Now()
}
