package nodesync

import (
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// releaseAfter is how long the agent waits after a pass before it returns
// freed memory to the kernel: long enough for the watch events its own
// writes cause to arrive and be freed, and for a burst of passes to end
// (the burst pays for one return).
const releaseAfter = 5 * time.Second

// memoryRelease gives the kernel back the memory a pass freed. A pass
// builds the node's spec, report and patch anew (megabytes with a
// thousand programs), then the agent idles for a minute: without this the
// Go runtime keeps the pages it grew to until its next collection, and the
// idle agent holds several times what it uses.
type memoryRelease struct {
	mu    sync.Mutex
	timer *time.Timer
}

// afterPass returns freed memory to the kernel releaseAfter from now,
// unless another pass ends first (then from that one's end).
func (m *memoryRelease) afterPass() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.timer == nil {
		m.timer = time.AfterFunc(releaseAfter, debug.FreeOSMemory)
		return
	}
	m.timer.Reset(releaseAfter)
}

// GCPercent is the agent's GOGC unless the GOGC environment variable sets
// one: its garbage collector runs once the heap has grown by a quarter
// since the last collection, not doubled. The idle agent's live heap is a
// few megabytes, and what it allocates between passes (its Lease, its
// interface watch: some 2 MB a minute) stayed resident until the heap had
// doubled; a collection of so small a heap costs milliseconds.
const GCPercent = 25

// TuneGC sets GCPercent unless GOGC is set. The agent's main calls it; an
// agent sharing its process (tests, the local stack) leaves the process's
// setting alone.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
