package memprofile

import "runtime"

// defaultRate is the runtime's own sampling rate (runtime.MemProfileRate's
// initial value).
const defaultRate = 512 * 1024

func init() { runtime.MemProfileRate = 0 }

// EnableIfServed samples allocations again, at the runtime's default
// rate, when addr serves /debug/pprof (not "" or "0", as the binaries'
// --pprof-bind-address says): its heap profiles cover what was allocated
// from then on.
func EnableIfServed(addr string) {
	if addr != "" && addr != "0" {
		runtime.MemProfileRate = defaultRate
	}
}
