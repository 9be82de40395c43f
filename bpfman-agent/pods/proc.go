package pods

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bpfleet/bpfleet/bpfman-agent/nsenter"

	"golang.org/x/sys/unix"
)

// proc is a process, by PID and start time (field 22 of its stat): the
// pair names one process for good, where a PID may be reused.
type proc struct {
	pid   int
	start uint64
}

// procOf reads the start time of process pid.
func procOf(pid int) (proc, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return proc{}, err
	}
	// The command (field 2) is in parentheses and may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return proc{}, fmt.Errorf("process %d: stat unreadable", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return proc{}, fmt.Errorf("process %d: stat unreadable", pid)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	return proc{pid: pid, start: start}, err
}

// alive reports whether p is still the process it was.
func (p proc) alive() bool {
	now, err := procOf(p.pid)
	return err == nil && now == p
}

// netnsIno is the inode of process pid's network namespace.
func netnsIno(pid int) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(netnsPath(pid), &st); err != nil {
		return 0, fmt.Errorf("network namespace of process %d: %w", pid, err)
	}
	return st.Ino, nil
}

func netnsPath(pid int) string { return filepath.Join("/proc", strconv.Itoa(pid), "ns", "net") }

// ownNetnsIno is the inode of the agent's network namespace.
func ownNetnsIno() (uint64, error) { return netnsIno(os.Getpid()) }

// interfaces lists the interfaces of process pid's network namespace,
// from its /proc/<pid>/net/dev, and the one of its IPv4 default route.
func interfaces(pid int) (names []string, primary string, err error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "net")
	err = eachLine(filepath.Join(dir, "dev"), func(line string) {
		name, _, ok := strings.Cut(line, ":")
		if ok && !strings.Contains(name, "|") {
			names = append(names, strings.TrimSpace(name))
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("interfaces of process %d: %w", pid, err)
	}
	_ = eachLine(filepath.Join(dir, "route"), func(line string) {
		f := strings.Fields(line)
		if primary == "" && len(f) > 2 && f[1] == "00000000" {
			primary = f[0]
		}
	})
	return names, primary, nil
}

// cgroupFile is process pid's /proc/<pid>/cgroup: call it in
// inNodeCgroupNS.
func cgroupFile(pid int) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	return string(b), err
}

// unifiedCgroup is the cgroup v2 path in a /proc/<pid>/cgroup file, or "".
func unifiedCgroup(file string) string {
	for line := range strings.Lines(file) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return rest
		}
	}
	return ""
}

// inNodeCgroupNS calls fn in the cgroup namespace of the node's init,
// where /proc/<pid>/cgroup files name cgroups from the hierarchy's root:
// an agent in a cgroup namespace of its own would read others' paths as
// "/../..", relative to its own. If the agent is not in one, fn runs as
// it is; else on a thread that enters init's (nsenter).
func inNodeCgroupNS[T any](fn func() (T, error)) (T, error) {
	var own, init unix.Stat_t
	if unix.Stat("/proc/self/ns/cgroup", &own) != nil || unix.Stat("/proc/1/ns/cgroup", &init) != nil || own.Ino == init.Ino {
		return fn()
	}
	node, err := os.Open("/proc/1/ns/cgroup")
	if err != nil {
		var zero T
		return zero, fmt.Errorf("the node's cgroup namespace: %w", err)
	}
	defer node.Close()
	return nsenter.Run(node, unix.CLONE_NEWCGROUP, fn)
}

// processesByCgroup maps the content of each process's
// /proc/<pid>/cgroup to its PIDs: the processes of one container share
// every cgroup. Call it in inNodeCgroupNS.
func processesByCgroup() (map[string][]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[string][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cg, err := cgroupFile(pid); err == nil && cg != "" {
			out[cg] = append(out[cg], pid)
		}
	}
	return out, nil
}

// cgroupProcs lists the PIDs in cgroup v2 directory dir (its
// cgroup.procs).
func cgroupProcs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// eachLine calls fn with each line of file path after the first.
func eachLine(path string, fn func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		if !first {
			fn(sc.Text())
		}
	}
	return sc.Err()
}
