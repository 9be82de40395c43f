package programs

import (
	"fmt"
	"io"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Stats keeps the kernel's BPF run statistics (run_cnt, run_time_ns of
// every program) on while they are wanted. They cost a few nanoseconds per
// program run on the whole node, so they are off otherwise. The zero value
// is off.
type Stats struct {
	mu sync.Mutex
	on io.Closer
}

// Want turns the statistics on or off; it does nothing if they already are.
func (s *Stats) Want(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.on == nil:
		c, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
		if err != nil {
			return fmt.Errorf("enable BPF run statistics: %w", err)
		}
		s.on = c
	case !on && s.on != nil:
		err := s.on.Close()
		s.on = nil
		return err
	}
	return nil
}

// On reports whether the statistics are on.
func (s *Stats) On() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.on != nil
}
