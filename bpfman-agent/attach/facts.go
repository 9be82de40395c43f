package attach

import (
	"bufio"
	"cmp"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
)

// Facts is what hooks plan from: the node's interfaces now, and the links
// the programs installed so far hold. Planning reads Facts only; ReadFacts
// (or the first hook that plans from a LazyFacts) and the caller's
// AddLinks touch the node.
type Facts struct {
	Interfaces []string
	IfErr      error // the interfaces could not be listed
	Primary    string
	// Cgroup2 is where the node's cgroup v2 hierarchy is mounted, or "".
	Cgroup2 string
	// links maps "<kind>/<name>" to the program's links, by target key.
	links map[string]map[string]uint32
	// runs holds the "<kind>/<name>" of every single-kind program the
	// node is to run, once the caller said (Runs); nil: unknown.
	runs map[string]bool
	// unread says that the node's part has not been read yet (LazyFacts).
	unread bool
	// added counts AddLinks calls (Added).
	added int
	// podSource lists the node's pods, once (podsRead; procsRead: with
	// their processes), into podList or podsErr; namespace restricts them
	// (InNamespace).
	podSource PodSource
	podsRead  bool
	procsRead bool
	podList   []Pod
	podsErr   error
	namespace string
}

// ReadFacts reads the node's interfaces, default-route interface and
// cgroup v2 root.
func ReadFacts() *Facts {
	f := LazyFacts()
	return f.node()
}

// LazyFacts are the node's facts, read when a hook first plans from them:
// a pass whose programs attach where their settings alone say
// (tracepoints, probes) reads no interface, route or mount.
func LazyFacts() *Facts { return &Facts{unread: true} }

// node reads the node's part of f if it has not been read; every hook
// that plans from it reads it through node.
func (f *Facts) node() *Facts {
	if f.unread {
		ifs, err := Interfaces()
		f.Interfaces, f.IfErr = slices.Sorted(maps.Keys(ifs)), err
		f.Primary, f.Cgroup2, f.unread = primaryInterface(), cgroup2Root(), false
	}
	return f
}

// AddLinks records the links of program kind/name, by target key.
func (f *Facts) AddLinks(kind, name string, links map[string]uint32) {
	if f.links == nil {
		f.links = map[string]map[string]uint32{}
	}
	f.links[kind+"/"+name] = links
	f.added++
}

// Added counts the AddLinks calls so far: a program whose order waited
// for another's link may plan now if it grew since.
func (f *Facts) Added() int { return f.added }

// KnowRuns says that the caller tells every single-kind program the node
// is to run (Runs), none or more: an order naming another is not
// scheduled here.
func (f *Facts) KnowRuns() {
	if f.runs == nil {
		f.runs = map[string]bool{}
	}
}

// Runs records that the node is to run program kind/name (a single
// program kind's), which an order may name.
func (f *Facts) Runs(kind, name string) {
	if f.runs == nil {
		f.runs = map[string]bool{}
	}
	f.runs[kind+"/"+name] = true
}

// LinkOf is the ID of the link program kind/name holds on target, or a
// *failure.Wait while it has none: one saying that the node does not run
// such a program, where the caller said which it runs (Runs) and this is
// not one of them (an order names a program of its own kind, which an
// application's program is not).
func (f *Facts) LinkOf(kind, name, target string) (uint32, error) {
	if id, ok := f.links[kind+"/"+name][target]; ok {
		return id, nil
	}
	if f.runs != nil && !f.runs[kind+"/"+name] {
		return 0, &failure.Wait{What: fmt.Sprintf("no %s %s is scheduled on this node (an order names a %s on the same node, never a program of an application)", kind, name, kind)}
	}
	return 0, &failure.Wait{What: fmt.Sprintf("%s %s is not attached on %s yet", kind, name, target)}
}

// anchor places a program among the others of its kind on target: first,
// before or after another program (by name; its link on target may not
// exist yet: *failure.Wait), else last.
func anchor(facts *Facts, kind, target string, first bool, before, after string) (Order, error) {
	switch {
	case first:
		return Order{First: true}, nil
	case before == "" && after == "":
		return Order{Last: true}, nil
	}
	other := cmp.Or(before, after)
	id, err := facts.LinkOf(kind, other, target)
	if err != nil {
		return Order{}, fmt.Errorf("order: %w", err)
	}
	if before != "" {
		return Order{BeforeLink: id}, nil
	}
	return Order{AfterLink: id}, nil
}

// perInterface plans one Spec per selected interface present now.
func perInterface(sel bpfleetv1.InterfaceSelector, facts *Facts, mk func(string) (Spec, error)) (Plan, error) {
	ifaces, missing, err := selectInterfaces(sel, facts)
	p := Plan{Targets: map[string]Spec{}, Missing: missing}
	if err != nil {
		return p, err
	}
	for _, iface := range ifaces {
		s, err := mk(iface)
		if err != nil {
			return p, err
		}
		p.Targets[iface] = s
	}
	return p, nil
}

// selectInterfaces returns the selected interfaces present on the node,
// and the named ones that are not.
// Without an interface list or a default route, it waits: planning with
// none would detach the program from interfaces it runs on.
func selectInterfaces(sel bpfleetv1.InterfaceSelector, facts *Facts) (present, missing []string, err error) {
	facts = facts.node()
	switch {
	case facts.IfErr != nil:
		return nil, nil, facts.IfErr
	case sel.Primary:
		if facts.Primary == "" {
			return nil, nil, &failure.Wait{What: "no default route: the primary interface is unknown"}
		}
		return []string{facts.Primary}, nil, nil
	case sel.Regex != "":
		re, err := regexp.Compile(sel.Regex)
		if err != nil {
			return nil, nil, &failure.Invalid{Err: fmt.Errorf("interfaces.regex %q: %w", sel.Regex, err)}
		}
		for _, iface := range facts.Interfaces {
			if re.MatchString(iface) {
				present = append(present, iface)
			}
		}
		return present, nil, nil
	}
	for _, n := range sel.Names {
		if slices.Contains(facts.Interfaces, string(n)) {
			present = append(present, string(n))
		} else {
			missing = append(missing, string(n))
		}
	}
	return present, missing, nil
}

// Interfaces lists the node's network interfaces by name, with their
// index.
func Interfaces() (map[string]int, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	out := make(map[string]int, len(ifs))
	for _, ifc := range ifs {
		out[ifc.Name] = ifc.Index
	}
	return out, nil
}

// hostRoot is the node's root as this process can reach it: the agent's
// pod shares the node's PIDs (hostPID) but not its mounts, nor, on cgroup
// v2 nodes, its cgroup namespace.
const hostRoot = "/proc/1/root"

// Cgroup2Root is where the node's cgroup v2 hierarchy can be reached, or
// "" without one (see cgroup2Root).
func Cgroup2Root() string { return cgroup2Root() }

// cgroup2Root is where the node's cgroup v2 hierarchy can be reached, or
// "" without one: the first cgroup v2 mount of the node's init, under
// hostRoot (a cgroup v2 mount of the agent's own pod would show the pod's
// cgroup only). Where this process shares init's root, or cannot reach it
// (init is no node's, as on a VM whose init is not ours), its own mounts
// say: the node's /sys/fs/cgroup the DaemonSet mounts under hostMounts
// first (on a node of cgroup v1 beside v2, the container runtime mounts
// none of v2 in the agent's pod), else its own first.
func cgroup2Root() string {
	host, herr := os.Stat(hostRoot)
	own, oerr := os.Stat("/")
	if herr != nil || oerr != nil || os.SameFile(host, own) {
		return ownCgroup2("/proc/self/mounts")
	}
	if mnt := cgroup2Mount("/proc/1/mounts"); mnt != "" {
		return filepath.Join(hostRoot, mnt)
	}
	return ""
}

// hostMounts is where the agent's DaemonSet mounts directories of the
// node it reads (/sys/fs/cgroup at /host/sys/fs/cgroup).
const hostMounts = "/host/"

// ownCgroup2 is the mount point, in mounts, of the cgroup v2 filesystem
// under hostMounts, else of the first one, or "".
func ownCgroup2(mounts string) string {
	if mnt := firstMatch(mounts, func(f []string) (string, bool) {
		return f[1], len(f) > 2 && f[2] == "cgroup2" && strings.HasPrefix(f[1], hostMounts)
	}); mnt != "" {
		return mnt
	}
	return cgroup2Mount(mounts)
}

// cgroup2Mount is the mount point of the first cgroup v2 filesystem listed
// in mounts (a /proc/<pid>/mounts file), or "".
func cgroup2Mount(mounts string) string {
	return firstMatch(mounts, func(f []string) (string, bool) {
		if len(f) < 3 || f[2] != "cgroup2" {
			return "", false
		}
		return f[1], true
	})
}

// primaryInterface is the interface of the IPv4 default route, from
// /proc/net/route, or "" without one.
func primaryInterface() string {
	return firstMatch("/proc/net/route", func(f []string) (string, bool) {
		return f[0], len(f) > 2 && f[1] == "00000000" && f[2] != "Destination"
	})
}

// firstMatch returns what match picks from the fields of the first line
// of file path it accepts, or "" (also when the file cannot be read).
func firstMatch(path string, match func(fields []string) (string, bool)) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if v, ok := match(fields); ok {
			return v
		}
	}
	return ""
}
