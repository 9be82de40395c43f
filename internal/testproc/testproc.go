// Package testproc runs the binaries that tests and benchmarks measure as
// separate processes (the operator, the agent, Prometheus), and reads
// their CPU time and memory from /proc, as `top` would.
package testproc

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Start runs bin with args and extra environment variables until the test
// ends (interrupt, then wait); its output goes to <dir>/<name>.log.
func Start(tb testing.TB, dir, bin string, env []string, args ...string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(dir, filepath.Base(bin)+".log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		logf.Close()
	})
	return cmd
}

// CPU is the process's user plus system time so far.
func CPU(tb testing.TB, cmd *exec.Cmd) time.Duration { return CPUOf(tb, cmd.Process.Pid) }

// CPUOf is CPU for the process pid.
func CPUOf(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The fields after the parenthesised command name; utime and stime are
	// the 14th and 15th of the whole line, in clock ticks (USER_HZ, 100).
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseUint(fields[11], 10, 64)
	stime, _ := strconv.ParseUint(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100
}

// Find is the pid of the running process whose executable is named name
// and whose arguments include arg: a process the test did not start
// itself, such as its control plane's kube-apiserver.
func Find(tb testing.TB, name, arg string) int {
	tb.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if args := Args(pid); len(args) > 0 && filepath.Base(args[0]) == name && slices.Contains(args[1:], arg) {
			return pid
		}
	}
	tb.Fatalf("no running %s with argument %s", name, arg)
	return 0
}

// Args is the command line of the process pid (none if it is gone).
func Args(pid int) []string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
}

// RSS is the process's resident memory now (VmRSS), in MiB.
func RSS(tb testing.TB, cmd *exec.Cmd) float64 { return status(tb, cmd, "VmRSS:") }

// PeakRSS is the most resident memory the process had (VmHWM), in MiB.
func PeakRSS(tb testing.TB, cmd *exec.Cmd) float64 { return status(tb, cmd, "VmHWM:") }

func status(tb testing.TB, cmd *exec.Cmd, field string) float64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := strings.CutPrefix(sc.Text(), field); ok {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 64)
			return v / 1024
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, cmd.Process.Pid)
	return 0
}

// Machine is what the whole machine's CPUs did so far (/proc/stat): time
// busy, idle (or waiting on I/O), and stolen by the hypervisor, summed
// over the CPUs.
type Machine struct{ Busy, Idle, Steal time.Duration }

// MachineCPU reads Machine.
func MachineCPU(tb testing.TB) Machine {
	tb.Helper()
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		tb.Fatal(err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	// cpu user nice system idle iowait irq softirq steal ..., in USER_HZ.
	fields := strings.Fields(line)
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseUint(fields[i], 10, 64)
		return time.Duration(v) * time.Second / 100
	}
	return Machine{
		Busy:  tick(1) + tick(2) + tick(3) + tick(6) + tick(7),
		Idle:  tick(4) + tick(5),
		Steal: tick(8),
	}
}

// Sub is m minus an earlier reading.
func (m Machine) Sub(earlier Machine) Machine {
	return Machine{m.Busy - earlier.Busy, m.Idle - earlier.Idle, m.Steal - earlier.Steal}
}

// FreePort is a TCP port on host no one listened on a moment ago (0 if
// none could be had): for a process a test starts, which binds it itself.
// Another process may take it meanwhile; the process then fails loudly.
func FreePort(host string) int {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is a loopback address (host:port) whose port was free a moment
// ago (see FreePort).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	port := FreePort("127.0.0.1")
	if port == 0 {
		tb.Fatal("no free port on 127.0.0.1")
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
