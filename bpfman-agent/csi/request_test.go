package csi

import (
	"strings"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// publishRequest is a request the kubelet makes for a pod's inline
// volume with attrs.
func publishRequest(target string, readOnly bool, attrs map[string]string) *csi.NodePublishVolumeRequest {
	ctx := map[string]string{
		attrEphemeral: "true", attrPodNamespace: "team", attrPodName: "reader", attrPodUID: "u1", attrServiceAccount: "flows",
	}
	for k, v := range attrs {
		ctx[k] = v
	}
	return &csi.NodePublishVolumeRequest{
		VolumeId: "csi-1", TargetPath: target, Readonly: readOnly, VolumeContext: ctx,
		VolumeCapability: &csi.VolumeCapability{AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{}}},
	}
}

func TestParsePublish(t *testing.T) {
	const under = "/var/lib/kubelet/pods"
	target := under + "/u1/volumes/kubernetes.io~csi/maps/mount"
	req, err := parsePublish(publishRequest(target, true, map[string]string{AttrProgram: "XdpProgram/filter", AttrMaps: "counts, total,counts"}), under)
	if err != nil {
		t.Fatal(err)
	}
	if req.Program != (Ref{Kind: "XdpProgram", Name: "filter"}) || strings.Join(req.Maps, ",") != "counts,total" || !req.ReadOnly ||
		req.Pod != (Pod{Namespace: "team", Name: "reader", UID: "u1", ServiceAccount: "flows"}) {
		t.Errorf("parsed %+v", req)
	}
	if req.Program.String() != "xdpprogram/filter" {
		t.Errorf("ref says %q", req.Program)
	}
	app, err := parsePublish(publishRequest(target, false, map[string]string{AttrApplication: "flowmeter"}), under)
	if err != nil || app.Program.String() != "application/flowmeter" || app.Maps != nil {
		t.Errorf("application: %+v, %v", app, err)
	}
	// A BpfApplication is the pod's own namespace's: the pod cannot name
	// another namespace's.
	team, err := parsePublish(publishRequest(target, true, map[string]string{AttrProgram: "bpfapplication/web-counter"}), under)
	if err != nil || team.Program != (Ref{Kind: "BpfApplication", Namespace: "team", Name: "web-counter"}) {
		t.Errorf("a BpfApplication: %+v, %v", team.Program, err)
	}
}

func TestParsePublishRefuses(t *testing.T) {
	const under = "/var/lib/kubelet/pods"
	target := under + "/u1/volumes/kubernetes.io~csi/maps/mount"
	prog := map[string]string{AttrProgram: "xdpprogram/filter"}
	for _, tc := range []struct {
		name string
		edit func(*csi.NodePublishVolumeRequest)
		want string
	}{
		{"no volume ID", func(r *csi.NodePublishVolumeRequest) { r.VolumeId = "" }, "volume ID missing"},
		{"no target", func(r *csi.NodePublishVolumeRequest) { r.TargetPath = "" }, "target path missing"},
		{"relative target", func(r *csi.NodePublishVolumeRequest) { r.TargetPath = "pods/x" }, "not a clean absolute path"},
		{"target escaping", func(r *csi.NodePublishVolumeRequest) { r.TargetPath = under + "/../../../etc" }, "not a clean absolute path"},
		{"target elsewhere", func(r *csi.NodePublishVolumeRequest) { r.TargetPath = "/etc/x" }, "not under /var/lib/kubelet/pods"},
		{"no capability", func(r *csi.NodePublishVolumeRequest) { r.VolumeCapability = nil }, "volume capability missing"},
		{"block", func(r *csi.NodePublishVolumeRequest) {
			r.VolumeCapability.AccessType = &csi.VolumeCapability_Block{Block: &csi.VolumeCapability_BlockVolume{}}
		}, "block volume"},
		{"persistent", func(r *csi.NodePublishVolumeRequest) { delete(r.VolumeContext, attrEphemeral) }, "inline ephemeral volumes only"},
		{"no program", func(r *csi.NodePublishVolumeRequest) { delete(r.VolumeContext, AttrProgram) }, "must name the program"},
		{"both", func(r *csi.NodePublishVolumeRequest) { r.VolumeContext[AttrApplication] = "a" }, "not both"},
		{"no kind", func(r *csi.NodePublishVolumeRequest) { r.VolumeContext[AttrProgram] = "filter" }, "is not <kind>/<name>"},
		{"bad kind", func(r *csi.NodePublishVolumeRequest) { r.VolumeContext[AttrProgram] = "pod/filter" }, `no program kind "pod"`},
		{"path in map", func(r *csi.NodePublishVolumeRequest) { r.VolumeContext[AttrMaps] = "../../x" }, "maps"},
		{"no pod info", func(r *csi.NodePublishVolumeRequest) { delete(r.VolumeContext, attrServiceAccount) }, "podInfoOnMount: true"},
		{"no pod UID", func(r *csi.NodePublishVolumeRequest) { delete(r.VolumeContext, attrPodUID) }, "podInfoOnMount: true"},
		{"another pod's target", func(r *csi.NodePublishVolumeRequest) { r.VolumeContext[attrPodUID] = "u2" }, "is not a volume of pod u2"},
		{"target not a CSI volume", func(r *csi.NodePublishVolumeRequest) {
			r.TargetPath = under + "/u1/volumes/kubernetes.io~empty-dir/x/mount"
		}, "is not a volume of pod u1"},
		{"target deeper", func(r *csi.NodePublishVolumeRequest) { r.TargetPath = target + "/deeper" }, "is not a volume of pod u1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := publishRequest(target, true, prog)
			tc.edit(r)
			_, err := parsePublish(r, under)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
