package nodesync

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
)

// mainTarget keys the link of a program with a single hook.
const mainTarget = "main"

// nodeFacts is what the planner needs to know about this node: its
// interfaces now, and the TCX links other programs hold.
type nodeFacts struct {
	interfaces []string
	ifErr      error // the interfaces could not be listed
	primary    string
	// tcxLink returns the link ID of the named TcxProgram on iface, or a
	// *waitError while it has none.
	tcxLink func(program, iface string) (uint32, error)
}

// plan is where one program attaches on this node.
type plan struct {
	targets map[string]attach.Spec
	// missing names selected interfaces that are absent for now.
	missing []string
}

// planTargets turns the API's hook into attachers, one per target, from
// the node's facts. Pure: no kernel calls.
func planTargets(a bpfleetv1.AttachPoint, facts nodeFacts) (plan, error) {
	switch {
	case a.Tracepoint != nil:
		tp, err := attach.ParseTracepoint(a.Tracepoint.Name)
		return single(tp), err
	case a.XDP != nil:
		return perInterface(a.XDP.Interfaces, facts, func(iface string) (attach.Spec, error) {
			return attach.XDP{Interface: iface, Mode: string(a.XDP.Mode)}, nil
		})
	case a.TCX != nil:
		return perInterface(a.TCX.Interfaces, facts, func(iface string) (attach.Spec, error) {
			anchor, err := tcxAnchor(a.TCX.Order, iface, facts)
			return attach.TCX{Interface: iface, Direction: string(a.TCX.Direction), Anchor: anchor}, err
		})
	case a.Uprobe != nil:
		return single(uprobe(a.Uprobe)), nil
	case a.Kprobe != nil:
		k := a.Kprobe
		return single(attach.Kprobe{Function: k.Function, Offset: uint64(k.Offset), Retprobe: k.Retprobe}), nil
	case a.Fentry != nil:
		return single(attach.Fentry{Function: a.Fentry.Function}), nil
	case a.Fexit != nil:
		return single(attach.Fentry{Function: a.Fexit.Function, Exit: true}), nil
	}
	return plan{}, errors.New("no attach point set")
}

func single(s attach.Spec) plan {
	return plan{targets: map[string]attach.Spec{mainTarget: s}}
}

func uprobe(u *bpfleetv1.UprobeAttach) attach.Spec {
	up := attach.Uprobe{
		Target: u.Target, Function: u.Function, Offset: uint64(u.Offset),
		Retprobe: u.Retprobe, PID: int(u.PID),
	}
	if u.PID != 0 {
		up.Root = filepath.Join("/proc", fmt.Sprint(u.PID), "root")
	}
	return up
}

// perInterface makes one attacher per selected interface present now.
func perInterface(sel bpfleetv1.InterfaceSelector, facts nodeFacts, mk func(string) (attach.Spec, error)) (plan, error) {
	ifaces, missing, err := selectInterfaces(sel, facts)
	p := plan{targets: map[string]attach.Spec{}, missing: missing}
	if err != nil {
		return p, err
	}
	for _, iface := range ifaces {
		s, err := mk(iface)
		if err != nil {
			return p, err
		}
		p.targets[iface] = s
	}
	return p, nil
}

// selectInterfaces returns the selected interfaces present on the node,
// and the named ones that are not.
// Without an interface list or a default route, it waits: planning with
// none would detach the program from interfaces it runs on.
func selectInterfaces(sel bpfleetv1.InterfaceSelector, facts nodeFacts) (present, missing []string, err error) {
	switch {
	case facts.ifErr != nil:
		return nil, nil, facts.ifErr
	case sel.Primary:
		if facts.primary == "" {
			return nil, nil, &waitError{"no default route: the primary interface is unknown"}
		}
		return []string{facts.primary}, nil, nil
	case sel.Regex != "":
		re, err := regexp.Compile(sel.Regex)
		if err != nil {
			return nil, nil, &specError{fmt.Errorf("interfaces.regex %q: %w", sel.Regex, err)}
		}
		for _, iface := range facts.interfaces {
			if re.MatchString(iface) {
				present = append(present, iface)
			}
		}
		return present, nil, nil
	}
	for _, n := range sel.Names {
		if slices.Contains(facts.interfaces, string(n)) {
			present = append(present, string(n))
		} else {
			missing = append(missing, string(n))
		}
	}
	return present, missing, nil
}

// tcxAnchor places a TCX program; before/after another TcxProgram needs
// that program's link on the same interface, which may not exist yet.
func tcxAnchor(o *bpfleetv1.TCXOrder, iface string, facts nodeFacts) (attach.Order, error) {
	switch {
	case o == nil || o.Last:
		return attach.Order{Last: true}, nil
	case o.First:
		return attach.Order{First: true}, nil
	}
	other, before := o.After, false
	if o.Before != "" {
		other, before = o.Before, true
	}
	id, err := facts.tcxLink(other, iface)
	if err != nil {
		return attach.Order{}, fmt.Errorf("tcx order: %w", err)
	}
	if before {
		return attach.Order{BeforeLink: id}, nil
	}
	return attach.Order{AfterLink: id}, nil
}

func missingMessage(missing []string) string {
	if len(missing) == 0 {
		return ""
	}
	return "waiting for interfaces: " + strings.Join(missing, ", ")
}
