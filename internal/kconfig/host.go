package kconfig

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// host is where Resolve reads the running kernel's facts: its uname, the
// version signature Ubuntu kernels have, and its config. Tests point it
// at files of their own.
type host struct {
	release string // uname -r, e.g. "6.1.0-26-amd64"
	version string // uname -v, e.g. "#1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)"
	// signature is the path of Ubuntu's version signature file.
	signature string
	// configs are the kernel config files, in the order libbpf reads
	// them; one named .gz is gunzipped.
	configs []string
}

// runningHost is the host of the running kernel.
func runningHost() (host, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return host{}, fmt.Errorf("uname: %w", err)
	}
	release := unix.ByteSliceToString(uts.Release[:])
	return host{
		release: release, version: unix.ByteSliceToString(uts.Version[:]),
		signature: "/proc/version_signature",
		configs:   []string{"/boot/config-" + release, "/proc/config.gz"},
	}, nil
}

// kernelVersion is LINUX_KERNEL_VERSION as libbpf reads it: the upstream
// version a distribution's kernel is built from (Ubuntu's version
// signature "Ubuntu 5.15.0-91.101-generic 5.15.131", Debian's uname -v
// "... Debian 6.1.112-1 ..."), else the release "a.b.c-...".
func (h host) kernelVersion() (uint64, error) {
	if sig, err := os.ReadFile(h.signature); err == nil {
		if v, ok := versionCode(string(sig), "%*s %*s %d.%d.%d"); ok {
			return v, nil
		}
	}
	if _, debian, ok := strings.Cut(h.version, "Debian "); ok {
		if v, ok := versionCode(debian, "%d.%d.%d"); ok {
			return v, nil
		}
	}
	if v, ok := versionCode(h.release, "%d.%d.%d"); ok {
		return v, nil
	}
	return 0, errors.New("kernel release " + h.release + ": not a version a.b.c")
}

// versionCode is KERNEL_VERSION(a, b, c) of the version format (with
// "%*s" skipping a word) finds at the start of s, c capped at 255 as the
// kernel's own macro does.
func versionCode(s, format string) (uint64, bool) {
	fields := strings.Fields(s)
	for strings.HasPrefix(format, "%*s ") {
		if len(fields) == 0 {
			return 0, false
		}
		format, fields = strings.TrimPrefix(format, "%*s "), fields[1:]
	}
	if len(fields) == 0 {
		return 0, false
	}
	var a, b, c uint64
	if n, _ := fmt.Sscanf(fields[0], format, &a, &b, &c); n != 3 || a > 255 || b > 255 {
		return 0, false
	}
	return a<<16 | b<<8 | min(c, 255), true
}
