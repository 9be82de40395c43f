package nodesync

import (
	"runtime/debug"
	"testing"
)

// The agent collects garbage once its heap grew by GCPercent, unless GOGC
// says otherwise.
func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	t.Setenv("GOGC", "")
	TuneGC()
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("GC percent %d without GOGC, want %d", got, GCPercent)
	}
	t.Setenv("GOGC", "100")
	TuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d with GOGC=100, want GOGC's", got)
	}
}
