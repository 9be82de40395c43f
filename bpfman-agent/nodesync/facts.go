package nodesync

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
)

// gatherFacts reads what the planner needs from this node: interfaces, the
// default-route interface, and (read when asked, since programs applied
// earlier in the pass count) the TCX links of installed programs.
func gatherFacts(desired []bpfleetv1.NodeProgram, installed func() ([]programs.Loaded, error)) nodeFacts {
	byName := map[string]string{} // TcxProgram name -> UID
	for _, np := range desired {
		if np.Attach.TCX != nil {
			byName[np.Name] = string(np.UID)
		}
	}
	ifs, err := interfaces()
	names := slices.Sorted(maps.Keys(ifs))
	return nodeFacts{
		interfaces: names,
		ifErr:      err,
		primary:    primaryInterface(),
		tcxLink: func(program, iface string) (uint32, error) {
			all, err := installed()
			if err != nil {
				return 0, err
			}
			for _, ld := range all {
				if l, ok := ld.Links[iface]; ok && ld.UID == byName[program] {
					return l.ID, nil
				}
			}
			return 0, &waitError{fmt.Sprintf("TcxProgram %s is not attached on %s yet", program, iface)}
		},
	}
}

// interfaces lists the node's network interfaces by name, with their
// index (an interface recreated under the same name gets a new one).
func interfaces() (map[string]int, error) {
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

// primaryInterface is the interface of the IPv4 default route, from
// /proc/net/route, or "" without one.
func primaryInterface() string {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 2 && fields[1] == "00000000" && fields[2] != "Destination" {
			return fields[0]
		}
	}
	return ""
}
