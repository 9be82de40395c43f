package attach

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

var _ Spec = Uprobe{}

var _ = register(hook[bpfleetv1.UprobeAttach]{
	name: bpfleetv1.HookUprobe,
	probe: func() error {
		if err := programType(ebpf.Kprobe); err != nil {
			return err
		}
		return UprobeFacility()
	},
	plan: func(s bpfleetv1.UprobeAttach, facts *Facts) (Plan, error) {
		u := Uprobe{Target: s.Target, Function: s.Function, Offset: uint64(s.Offset), Retprobe: s.Retprobe}
		if s.Containers != nil {
			return perContainerProcess(u, s.Containers, facts)
		}
		return Single(u.in(int(s.PID))), nil
	},
	// Containers that come and go add and remove links of one revision.
	linkSettings: func(s bpfleetv1.UprobeAttach) bpfleetv1.UprobeAttach {
		s.Containers = nil
		return s
	},
})

// in limits u to process pid, its target resolved in the process's root;
// 0 leaves u as it is.
func (u Uprobe) in(pid int) Uprobe {
	if pid != 0 {
		u.PID, u.Root = pid, filepath.Join("/proc", strconv.Itoa(pid), "root")
	}
	return u
}

// perContainerProcess plans u once per process of each selected
// container: the probe fires for that process only (the same file run
// elsewhere, in another pod or on the host, does not fire it), and its
// target is resolved in the container's root.
func perContainerProcess(u Uprobe, sel *bpfleetv1.ContainerSelector, facts *Facts) (Plan, error) {
	matched, err := selectPods(&sel.PodSelector, facts, true)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{PodScoped: true}
	for _, pod := range matched {
		p.matchPod(pod)
		if pod.Err != nil {
			p.failPod(pod, pod.Err)
			continue
		}
		var absent []string
		for _, c := range selectedContainers(pod, sel.ContainerNames, &absent) {
			for _, pid := range c.PIDs {
				what := c.Name + ":" + strconv.Itoa(pid)
				p.addPodTarget(podKey(pod, containerKeyPart(c, pid)...), pod, what, u.in(pid))
			}
		}
		if len(absent) > 0 {
			p.failPod(pod, fmt.Errorf("no running container %s in the pod", strings.Join(absent, ", ")))
		}
	}
	return p, nil
}

// selectedContainers returns the running containers of pod that names
// picks (all of them without names), and adds to absent the names of
// those not running.
func selectedContainers(pod *Pod, names []bpfleetv1.ContainerName, absent *[]string) []Container {
	if len(names) == 0 {
		if len(pod.Containers) == 0 {
			*absent = append(*absent, "(none is running)")
		}
		return pod.Containers
	}
	var out []Container
	for _, n := range names {
		i := slices.IndexFunc(pod.Containers, func(c Container) bool { return c.Name == string(n) })
		if i < 0 {
			*absent = append(*absent, string(n))
			continue
		}
		out = append(out, pod.Containers[i])
	}
	return out
}

// Uprobe is a function (or an address) in a user-space binary or library.
type Uprobe struct {
	// Target is the absolute path of a binary or library, or the name of
	// a library such as "libc" or "libssl.so.3", found through
	// /etc/ld.so.cache or the usual library folders.
	Target string
	// Function is the symbol to probe. Empty: Offset is the address in
	// Target's file to probe.
	Function string
	// Offset is added to Function's address.
	Offset uint64
	// Retprobe probes the function's return instead of its entry.
	Retprobe bool
	// PID, if not 0, limits the probe to one process.
	PID int
	// Root, if set, is the root Target is resolved in, e.g.
	// "/proc/<pid>/root" for a binary inside a container: symbolic links
	// there cannot lead out of it.
	Root string
}

// Validate checks the fields before they reach paths or the kernel.
func (u Uprobe) Validate() error {
	if err := checkTarget(u.Target); err != nil {
		return err
	}
	if u.Function == "" && u.Offset == 0 {
		return errors.New("uprobe: set a function, an offset, or both")
	}
	if u.Function != "" {
		if err := checkSymbol("uprobe function", u.Function, ".$@", ".$@"); err != nil {
			return err
		}
	}
	if u.PID < 0 {
		return fmt.Errorf("uprobe pid %d: must not be negative", u.PID)
	}
	if u.Root != "" && !isCleanAbs(u.Root) {
		return fmt.Errorf("uprobe root %q: must be an absolute path without '..'", u.Root)
	}
	return nil
}

// checkTarget accepts an absolute path without ".." or a library name,
// which has no '/'.
func checkTarget(t string) error {
	if strings.HasPrefix(t, "/") {
		if len(t) > 4096 || !isCleanAbs(t) {
			return fmt.Errorf("uprobe target %q: must be a clean absolute path without '..'", t)
		}
		return nil
	}
	if t == "" || len(t) > 255 || t[0] == '.' || strings.Contains(t, "..") ||
		strings.ContainsFunc(t, func(c rune) bool { return !isLibraryChar(c) }) {
		return fmt.Errorf("uprobe target %q: want an absolute path or a library name such as libc", t)
	}
	return nil
}

func isCleanAbs(p string) bool {
	return filepath.IsAbs(p) && filepath.Clean(p) == p && !slices.Contains(strings.Split(p, "/"), "..")
}

func isLibraryChar(c rune) bool {
	return c < 0x80 && (isAlpha(byte(c)) || c >= '0' && c <= '9' || strings.ContainsRune("+-.", c))
}

// ProgramType implements Spec: uprobes run Kprobe programs.
func (Uprobe) ProgramType() ebpf.ProgramType { return ebpf.Kprobe }

// Attach implements Spec. It resolves Target first; the Detail names the
// file it found.
func (u Uprobe) Attach(prog *ebpf.Program) (Attachment, error) {
	if err := u.Validate(); err != nil {
		return Attachment{}, err
	}
	path, f, err := u.open()
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", u, err)
	}
	defer f.Close()
	// In a Root, the kernel and cilium/ebpf reopen the file through the
	// descriptor: no second lookup that a container's links could
	// redirect (the link's info then shows /proc/self/fd/N as its file).
	kernelPath := path
	if u.Root != "" {
		kernelPath = fdPath(f)
	}
	ex, err := link.OpenExecutable(kernelPath)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", u, err)
	}
	l, err := u.attach(ex, prog)
	if err != nil {
		return Attachment{}, fmt.Errorf("attach %s: %w", u, explain(err, UprobeFacility))
	}
	return Attachment{Link: l, Detail: u.describe(filepath.Join("/", u.Root, path))}, nil
}

func (u Uprobe) attach(ex *link.Executable, prog *ebpf.Program) (link.Link, error) {
	opts := &link.UprobeOptions{Offset: u.Offset, PID: u.PID}
	if u.Function == "" {
		opts.Address, opts.Offset = u.Offset, 0
	}
	if u.Retprobe {
		return ex.Uretprobe(u.Function, prog, opts)
	}
	return ex.Uprobe(u.Function, prog, opts)
}

// Resolve returns the path, inside Root, of the file Target names: Target
// itself if it is a path, else the library it names, built for this
// machine.
func (u Uprobe) Resolve() (string, error) {
	if err := u.Validate(); err != nil {
		return "", err
	}
	path, f, err := u.open()
	if err != nil {
		return "", err
	}
	f.Close()
	return path, nil
}

func (u Uprobe) String() string {
	s := u.describe(u.Target)
	if u.Root != "" {
		s += " in " + u.Root
	}
	return s
}

// describe is e.g. "uprobe /usr/bin/bash:readline+0 pid 42".
func (u Uprobe) describe(target string) string {
	s := "uprobe "
	if u.Retprobe {
		s = "uretprobe "
	}
	s += target + ":" + u.Function + "+" + strconv.FormatUint(u.Offset, 10)
	if u.PID != 0 {
		s += " pid " + strconv.Itoa(u.PID)
	}
	return s
}
