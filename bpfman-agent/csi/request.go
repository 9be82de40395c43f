package csi

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
)

// Volume attributes a pod sets (volumeAttributes of its csi volume).
const (
	// AttrApplication names a ClusterBpfApplication.
	AttrApplication = "application"
	// AttrProgram names a program resource as <kind>/<name>, the kind in
	// lower case: "xdpprogram/filter".
	AttrProgram = "program"
	// AttrMaps lists the maps to mount, comma-separated; without it, every
	// map granted to the pod.
	AttrMaps = "maps"
)

// Attributes the kubelet adds (podInfoOnMount; a pod's own attributes of
// these names are overwritten by the kubelet).
const (
	attrPodName        = "csi.storage.k8s.io/pod.name"
	attrPodNamespace   = "csi.storage.k8s.io/pod.namespace"
	attrPodUID         = "csi.storage.k8s.io/pod.uid"
	attrServiceAccount = "csi.storage.k8s.io/serviceAccount.name"
	attrEphemeral      = "csi.storage.k8s.io/ephemeral"
)

// applicationKind is the kind the application attribute names.
const applicationKind = "ClusterBpfApplication"

// maxMapsPerVolume bounds the maps one volume lists.
const maxMapsPerVolume = 64

// Pod is the pod a volume is published for.
type Pod struct {
	Namespace      string `json:"namespace"`
	Name           string `json:"name"`
	UID            string `json:"uid"`
	ServiceAccount string `json:"serviceAccount"`
}

// String is namespace/name.
func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// Ref names a program resource; a namespaced one (a BpfApplication) is
// the pod's namespace's.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String is how a volume names it: application/<name> or <kind>/<name>.
func (r Ref) String() string {
	if r.Kind == applicationKind {
		return "application/" + r.Name
	}
	return strings.ToLower(r.Kind) + "/" + r.Name
}

// request is a NodePublishVolume request, checked.
type request struct {
	VolumeID string
	Target   string
	ReadOnly bool
	Program  Ref
	// Maps the volume asks for; empty: every map granted to the pod.
	Maps []string
	Pod  Pod
}

// parsePublish checks a publish request: the CSI arguments, then the
// volume's attributes, then that the target is the pod's (see
// checkPodTarget). Its errors are the message of an InvalidArgument.
func parsePublish(r *csi.NodePublishVolumeRequest, under string) (request, error) {
	req := request{VolumeID: r.GetVolumeId(), Target: r.GetTargetPath(), ReadOnly: r.GetReadonly()}
	if err := checkVolume(req.VolumeID, req.Target, under); err != nil {
		return req, err
	}
	if err := checkCapability(r.GetVolumeCapability()); err != nil {
		return req, err
	}
	if err := req.parseAttributes(r.GetVolumeContext()); err != nil {
		return req, err
	}
	return req, checkPodTarget(req.Target, under, req.Pod.UID)
}

// checkPodTarget accepts a target in the pod's own directory, where the
// kubelet puts a pod's CSI volumes: <under>/<pod UID>/volumes/
// kubernetes.io~csi/<volume>/mount. The pod's identity is what the
// kubelet says (podInfoOnMount overwrites a pod's own attributes of those
// names); and a pod cannot know its UID before it exists, so it cannot
// pass for another even where podInfoOnMount is off.
func checkPodTarget(target, under, uid string) error {
	if under == "" {
		return nil
	}
	dir := filepath.Join(filepath.Clean(under), uid, "volumes", "kubernetes.io~csi") + "/"
	rest, ok := strings.CutPrefix(target, dir)
	if !ok || strings.Count(rest, "/") != 1 {
		return fmt.Errorf("target path %q is not a volume of pod %s (%s<volume>/mount)", target, uid, dir)
	}
	return nil
}

// checkVolume checks the arguments publish and unpublish share: a volume
// ID, and a clean absolute target path under the directory the driver
// mounts in.
func checkVolume(id, target, under string) error {
	switch {
	case id == "":
		return fmt.Errorf("volume ID missing")
	case target == "":
		return fmt.Errorf("target path missing")
	case !filepath.IsAbs(target) || filepath.Clean(target) != target:
		return fmt.Errorf("target path %q is not a clean absolute path", target)
	case under != "" && !strings.HasPrefix(target, filepath.Clean(under)+"/"):
		return fmt.Errorf("target path %q is not under %s, where the driver mounts", target, under)
	}
	return nil
}

// checkCapability accepts a mount volume: maps are files, never a block
// device.
func checkCapability(c *csi.VolumeCapability) error {
	if c == nil {
		return fmt.Errorf("volume capability missing")
	}
	if c.GetBlock() != nil {
		return fmt.Errorf("a block volume was asked for: csi.bpfleet.io mounts a directory of maps")
	}
	if c.GetMount() == nil {
		return fmt.Errorf("volume capability names no access type (mount)")
	}
	return nil
}

// parseAttributes reads the program, maps and pod from the volume's
// attributes.
func (req *request) parseAttributes(attrs map[string]string) error {
	if attrs[attrEphemeral] != "true" {
		return fmt.Errorf("csi.bpfleet.io serves inline ephemeral volumes only (a csi volume in the pod spec), not persistent volumes")
	}
	var err error
	if req.Program, err = parseRef(attrs[AttrApplication], attrs[AttrProgram]); err != nil {
		return err
	}
	if k, _ := bpfleetv1.ProgramKindOf(req.Program.Kind); k.Namespaced {
		req.Program.Namespace = attrs[attrPodNamespace]
	}
	if req.Maps, err = parseMaps(attrs[AttrMaps]); err != nil {
		return err
	}
	req.Pod = Pod{Namespace: attrs[attrPodNamespace], Name: attrs[attrPodName], UID: attrs[attrPodUID], ServiceAccount: attrs[attrServiceAccount]}
	if req.Pod.Namespace == "" || req.Pod.Name == "" || req.Pod.ServiceAccount == "" || req.Pod.UID == "" {
		return fmt.Errorf("the kubelet passed no pod information: the CSIDriver csi.bpfleet.io must set podInfoOnMount: true")
	}
	return checkName(req.Pod.UID)
}

// parseRef reads exactly one of the application and program attributes.
func parseRef(application, program string) (Ref, error) {
	switch {
	case application != "" && program != "":
		return Ref{}, fmt.Errorf("set volumeAttributes %q or %q, not both", AttrApplication, AttrProgram)
	case application != "":
		return Ref{Kind: applicationKind, Name: application}, checkName(application)
	case program != "":
		return parseProgram(program)
	}
	return Ref{}, fmt.Errorf("volumeAttributes must name the program: %q: <name> of a ClusterBpfApplication, or %q: <kind>/<name> such as xdpprogram/filter", AttrApplication, AttrProgram)
}

// parseProgram reads <kind>/<name>, the kind in any case.
func parseProgram(s string) (Ref, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok {
		return Ref{}, fmt.Errorf("volumeAttributes %q: %q is not <kind>/<name>, such as xdpprogram/filter", AttrProgram, s)
	}
	for _, k := range bpfleetv1.ProgramKinds {
		if strings.EqualFold(k.Kind, kind) {
			return Ref{Kind: k.Kind, Name: name}, checkName(name)
		}
	}
	return Ref{}, fmt.Errorf("volumeAttributes %q: no program kind %q (kinds: %s)", AttrProgram, kind, kindNames())
}

// kindNames lists the program kinds as a volume names them.
func kindNames() string {
	var out []string
	for _, k := range bpfleetv1.ProgramKinds {
		out = append(out, strings.ToLower(k.Kind))
	}
	return strings.Join(out, ", ")
}

// checkName accepts a resource name (a DNS subdomain).
func checkName(name string) error {
	if name == "" || len(name) > 253 || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return fmt.Errorf("%q is not a resource name", name)
	}
	return nil
}

// parseMaps reads the comma-separated map names, each one a map name the
// agent pins (no path separators).
func parseMaps(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if err := pins.ValidateMapName(name); err != nil {
			return nil, fmt.Errorf("volumeAttributes %q: %w", AttrMaps, err)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) > maxMapsPerVolume {
		return nil, fmt.Errorf("volumeAttributes %q lists %d maps, at most %d", AttrMaps, len(out), maxMapsPerVolume)
	}
	return out, nil
}
