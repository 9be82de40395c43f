package csi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/container-storage-interface/spec/lib/go/csi"
	"github.com/go-logr/logr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/metrics"
)

// DriverName is the CSI driver's name, as pods and the CSIDriver object
// say it.
const DriverName = "csi.bpfleet.io"

// Programs is what the driver reads of the programs the node runs.
type Programs interface {
	// Lookup returns the node's entry for the program ref names, false if
	// the node's set has none.
	Lookup(ref Ref) (bpfleetv1.NodeProgram, bool)
	// MapIDs lists the maps of uid's running revision with their kernel
	// IDs; an error wraps fs.ErrNotExist when uid runs no revision.
	MapIDs(uid string) (map[string]uint32, error)
	// Map opens map name of uid's running revision; the caller closes it.
	Map(uid, name string) (*ebpf.Map, error)
}

// Options configure a Driver.
type Options struct {
	// NodeID is the node's name.
	NodeID string
	// Version is the agent's, for GetPluginInfo.
	Version string
	// StateDir holds the records of published volumes.
	StateDir string
	// MountUnder is the directory every target path must be in (the
	// kubelet's pods directory); "" accepts any.
	MountUnder string
	// Changed is called, without blocking, after a volume was published
	// or unpublished: the agent's report lists them.
	Changed func()
	Log     logr.Logger
}

// Driver serves the CSI Identity and Node services.
type Driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedNodeServer

	o        Options
	programs Programs
	records  store

	// mu guards vols, and every mount in the driver's volumes.
	mu   sync.Mutex
	vols map[string]*volume
}

// New makes a driver, with the volumes published before the agent
// restarted.
func New(programs Programs, o Options) (*Driver, error) {
	d := &Driver{o: o, programs: programs, records: store{dir: o.StateDir}, vols: map[string]*volume{}}
	if d.o.Changed == nil {
		d.o.Changed = func() {}
	}
	recs, err := d.records.load()
	err = errors.Join(err, d.records.clearStaging())
	for _, rec := range recs {
		d.vols[rec.VolumeID] = &volume{record: rec}
	}
	metrics.SetVolumes(len(d.vols))
	return d, err
}

// GetPluginInfo names the driver.
func (d *Driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: DriverName, VendorVersion: d.o.Version}, nil
}

// GetPluginCapabilities says the driver has no Controller service.
func (d *Driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{}, nil
}

// Probe says the driver is ready: it serves once the agent runs.
func (d *Driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

// NodeGetCapabilities says the node service has no stage step: a volume
// is published straight to its target.
func (d *Driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{}, nil
}

// NodeGetInfo names the node.
func (d *Driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.o.NodeID}, nil
}

// NodePublishVolume mounts the maps the volume asks for at its target, if
// the program grants them to the pod and runs on the node.
func (d *Driver) NodePublishVolume(ctx context.Context, r *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	req, err := parsePublish(r, d.o.MountUnder)
	if err != nil {
		metrics.CountPublish(metrics.PublishInvalid)
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.vols[req.VolumeID]; ok {
		return d.republish(v, req)
	}
	rec, err := d.publish(req)
	metrics.CountPublish(publishResult(err))
	if err != nil {
		d.o.Log.Info("volume not published", "volume", req.VolumeID, "pod", req.Pod.String(), "program", req.Program.String(), "reason", err.Error())
		return nil, err
	}
	d.vols[rec.VolumeID] = &volume{record: rec}
	metrics.SetVolumes(len(d.vols))
	d.o.Log.Info("volume published", "volume", rec.VolumeID, "pod", rec.Pod.String(), "program", rec.Program.String(), "maps", rec.Maps, "access", rec.Access)
	d.o.Changed()
	return &csi.NodePublishVolumeResponse{}, nil
}

// publishResult is the metric's result of a publish that returned err.
func publishResult(err error) string {
	switch status.Code(err) {
	case codes.OK:
		return metrics.PublishPublished
	case codes.PermissionDenied:
		return metrics.PublishDenied
	case codes.Unavailable:
		return metrics.PublishWaiting
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists:
		return metrics.PublishInvalid
	}
	return metrics.PublishFailed
}

// publish checks req against the program's grants, opens its maps and
// mounts them; it returns a gRPC status error.
func (d *Driver) publish(req request) (record, error) {
	np, ok := d.programs.Lookup(req.Program)
	if !ok {
		return record{}, status.Errorf(codes.Unavailable, "%s is not scheduled on node %s (not made yet, or its nodeSelector leaves the node out); the kubelet retries", req.Program, d.o.NodeID)
	}
	names, access, err := decide(req, np.MapAccess)
	if err != nil {
		return record{}, status.Error(codes.PermissionDenied, err.Error())
	}
	ms, err := d.open(req.Program, string(np.UID), names)
	defer closeMaps(ms)
	if err != nil {
		return record{}, err
	}
	rec := record{VolumeID: req.VolumeID, Target: req.Target, Program: req.Program, UID: string(np.UID), Pod: req.Pod, Maps: names, Access: access}
	// A volume mounted there but not recorded was cut short by a crash.
	if err := unmountMaps(req.Target); err != nil {
		return record{}, status.Error(codes.Internal, err.Error())
	}
	if err := mountMaps(req.Target, d.records.staging(req.VolumeID), ms, access); err != nil {
		return record{}, status.Error(codes.Internal, err.Error())
	}
	if err := d.records.put(rec); err != nil {
		return record{}, status.Error(codes.Internal, errors.Join(err, unmountMaps(req.Target)).Error())
	}
	return rec, nil
}

// open opens the named maps of uid's running revision: Unavailable while
// it runs none (the kubelet retries), NotFound for a map its object lacks.
func (d *Driver) open(ref Ref, uid string, names []string) (map[string]*ebpf.Map, error) {
	ids, err := d.programs.MapIDs(uid)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codes.Unavailable, "%s does not run on node %s yet (loading, or failing there: its status says); the kubelet retries until it does", ref, d.o.NodeID)
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "maps of %s: %v", ref, err)
	}
	ms := make(map[string]*ebpf.Map, len(names))
	for _, name := range names {
		if _, ok := ids[name]; !ok {
			return ms, status.Errorf(codes.NotFound, "%s has no map %q (maps: %s)", ref, name, mapList(ids))
		}
		m, err := d.programs.Map(uid, name)
		if err != nil {
			return ms, status.Errorf(codes.Unavailable, "map %s of %s: %v; the kubelet retries", name, ref, err)
		}
		ms[name] = m
	}
	return ms, nil
}

func mapList(ids map[string]uint32) string {
	var names []string
	for name := range ids {
		if name != "" && name[0] != '.' {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return fmt.Sprint(names)
}

func closeMaps(ms map[string]*ebpf.Map) {
	for _, m := range ms {
		m.Close()
	}
}

// republish answers a publish of a volume already published: the same
// volume at the same target again is done (if its mount is still there);
// anything else is AlreadyExists, as CSI asks.
func (d *Driver) republish(v *volume, req request) (*csi.NodePublishVolumeResponse, error) {
	if v.Target != req.Target || v.Program != req.Program || v.Pod != req.Pod || (req.ReadOnly && v.Access == bpfleetv1.MapReadWrite) {
		return nil, status.Errorf(codes.AlreadyExists, "volume %s is published at %s for %s with other arguments", v.VolumeID, v.Target, v.Program)
	}
	mounted, err := isVolume(v.Target)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if !mounted {
		return nil, status.Errorf(codes.Internal, "volume %s was published at %s, but its filesystem is gone: unpublish it first", v.VolumeID, v.Target)
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// NodeUnpublishVolume unmounts the volume at its target and forgets it.
// A volume that is not published there is unpublished already (CSI asks
// for OK): its target is only cleaned, of a volume filesystem or an empty
// directory.
func (d *Driver) NodeUnpublishVolume(ctx context.Context, r *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	if err := checkVolume(r.GetVolumeId(), r.GetTargetPath(), d.o.MountUnder); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := unmountMaps(r.GetTargetPath()); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if v, ok := d.vols[r.GetVolumeId()]; ok && v.Target == r.GetTargetPath() {
		if err := d.records.remove(v.VolumeID); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		delete(d.vols, v.VolumeID)
		metrics.SetVolumes(len(d.vols))
		d.o.Log.Info("volume unpublished", "volume", v.VolumeID, "pod", v.Pod.String(), "program", v.Program.String())
		d.o.Changed()
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}
