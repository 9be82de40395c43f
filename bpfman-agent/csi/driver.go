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

// ErrSetUnknown is what Programs.Lookup returns before the agent has
// read its node's set.
var ErrSetUnknown = errors.New("the agent has not read its node's set yet")

// Programs is what the driver reads of the programs the node runs.
type Programs interface {
	// Lookup returns the node's entry for the program ref names, false if
	// the node's set has none; ErrSetUnknown before the set is read.
	Lookup(ref Ref) (bpfleetv1.NodeProgram, bool, error)
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
	// MountUnder is the kubelet's pods directory, which every target path
	// must be in (see checkPodTarget); "" accepts any.
	MountUnder string
	// Changed is called, without blocking, after a volume was published
	// or unpublished: the agent's report lists them.
	Changed func()
	// Log receives what the driver does and what it could not.
	Log logr.Logger
}

// Driver serves the CSI Identity and Node services.
type Driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedNodeServer

	opts     Options
	programs Programs
	records  store

	// mu guards vols, and every mount in the driver's volumes.
	mu   sync.Mutex
	vols map[string]*volume
}

// New makes a driver, with the volumes published before the agent
// restarted that are still mounted (after a node's reboot, none is). A
// record it cannot read, or a staging mount it cannot remove, is logged:
// the driver still serves.
func New(programs Programs, o Options) *Driver {
	d := &Driver{opts: o, programs: programs, records: store{dir: o.StateDir}, vols: map[string]*volume{}}
	if d.opts.Changed == nil {
		d.opts.Changed = func() {}
	}
	recs, err := d.records.load()
	if err = errors.Join(err, d.records.clearStaging()); err != nil {
		d.opts.Log.Error(err, "volume records")
	}
	for _, rec := range recs {
		d.vols[rec.VolumeID] = &volume{record: rec}
	}
	if err := d.forgetUnmounted(); err != nil {
		d.opts.Log.Error(err, "volume records")
	}
	metrics.SetVolumes(len(d.vols))
	return d
}

// NodePublishVolume mounts the maps the volume asks for at its target, if
// the program grants them to the pod and runs on the node.
func (d *Driver) NodePublishVolume(_ context.Context, r *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	req, err := parsePublish(r, d.opts.MountUnder)
	if err != nil {
		metrics.CountPublish(metrics.PublishInvalid)
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if done, err := d.republish(req); err != nil {
		return nil, err
	} else if done {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	rec, err := d.publish(req)
	metrics.CountPublish(publishResult(err))
	if err != nil {
		return nil, err // the kubelet's FailedMount event says it
	}
	d.vols[rec.VolumeID] = &volume{record: rec}
	metrics.SetVolumes(len(d.vols))
	d.opts.Log.Info("volume published", "volume", rec.VolumeID, "pod", rec.Pod.String(), "program", rec.Program.String(), "maps", rec.Maps, "access", rec.Access)
	d.opts.Changed()
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
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists:
		return metrics.PublishInvalid
	}
	return metrics.PublishFailed
}

// republish answers a publish of a volume the driver knows: the same
// volume at the same target again is done (done) if its mount is still
// there; one whose mount is gone (the node restarted) is forgotten and
// published anew. Another volume's target, or the same volume with other
// arguments, is AlreadyExists, as CSI asks.
func (d *Driver) republish(req request) (done bool, err error) {
	if owner := d.ownerOf(req.Target); owner != nil && owner.VolumeID != req.VolumeID {
		return false, status.Errorf(codes.AlreadyExists, "target %s holds volume %s", req.Target, owner.VolumeID)
	}
	v, ok := d.vols[req.VolumeID]
	if !ok {
		return false, nil
	}
	if v.Target != req.Target || v.Program != req.Program || v.Pod != req.Pod || (req.ReadOnly && v.Access == bpfleetv1.MapReadWrite) {
		return false, status.Errorf(codes.AlreadyExists, "volume %s is published at %s for %s with other arguments", v.VolumeID, v.Target, v.Program)
	}
	mounted, err := isVolume(v.Target)
	if err != nil || mounted {
		return err == nil, statusOf(err)
	}
	return false, statusOf(d.forget(v.VolumeID))
}

// ownerOf is the volume published at target, if any.
func (d *Driver) ownerOf(target string) *volume {
	for _, v := range d.vols {
		if v.Target == target {
			return v
		}
	}
	return nil
}

// publish checks req against the program's grants, opens its maps and
// mounts them; it returns a gRPC status error.
func (d *Driver) publish(req request) (record, error) {
	np, err := d.lookup(req.Program)
	if err != nil {
		return record{}, err
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
	return rec, d.mount(rec, ms)
}

// lookup finds ref in the node's set: Unavailable while it is not there
// (the kubelet retries).
func (d *Driver) lookup(ref Ref) (bpfleetv1.NodeProgram, error) {
	np, ok, err := d.programs.Lookup(ref)
	switch {
	case err != nil:
		return np, status.Errorf(codes.Unavailable, "%v; the kubelet retries", err)
	case !ok:
		return np, status.Errorf(codes.Unavailable, "%s is not scheduled on node %s (not made yet, or its nodeSelector leaves the node out); the kubelet retries", ref, d.opts.NodeID)
	}
	return np, nil
}

// open opens the named maps of uid's running revision: Unavailable while
// it runs none (the kubelet retries), FailedPrecondition for a map its
// object lacks.
func (d *Driver) open(ref Ref, uid string, names []string) (map[string]*ebpf.Map, error) {
	ids, err := d.programs.MapIDs(uid)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codes.Unavailable, "%s does not run on node %s yet (loading, or failing there: its status says); the kubelet retries until it does", ref, d.opts.NodeID)
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "maps of %s: %v", ref, err)
	}
	ms := make(map[string]*ebpf.Map, len(names))
	for _, name := range names {
		if _, ok := ids[name]; !ok {
			return ms, status.Errorf(codes.FailedPrecondition, "%s has no map %q (maps: %s)", ref, name, mapList(ids))
		}
		m, err := d.programs.Map(uid, name)
		if err != nil {
			return ms, status.Errorf(codes.Unavailable, "map %s of %s: %v; the kubelet retries", name, ref, err)
		}
		ms[name] = m
	}
	return ms, nil
}

// mount mounts rec's maps ms at its target and records it. A volume
// mounted there but not recorded (a publish cut short by a crash) is
// unmounted first; one whose maps changed while it was made (an update
// of the program) is unmounted again, Unavailable: the kubelet retries.
func (d *Driver) mount(rec record, ms map[string]*ebpf.Map) error {
	if err := unmountMaps(rec.Target); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	if err := mountMaps(rec.Target, d.records.staging(rec.VolumeID), d.opts.MountUnder, ms, rec.Access); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	if err := d.checkCurrent(rec); err != nil {
		return errors.Join(err, statusOf(unmountMaps(rec.Target)))
	}
	if err := d.records.put(rec); err != nil {
		return status.Error(codes.Internal, errors.Join(err, unmountMaps(rec.Target)).Error())
	}
	return nil
}

// checkCurrent fails, Unavailable, when the maps pinned in rec's volume
// are not (or no longer) those its program runs with.
func (d *Driver) checkCurrent(rec record) error {
	have, err := pinnedIDs(rec.Target, rec.Maps)
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	want, err := d.programs.MapIDs(rec.UID)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return status.Error(codes.Internal, err.Error())
	}
	for _, name := range rec.Maps {
		if have[name] != want[name] {
			return status.Errorf(codes.Unavailable, "%s was updated while the volume was made; the kubelet retries", rec.Program)
		}
	}
	return nil
}

// mapList names the maps of ids a pod may ask for (no data section).
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

// closeMaps closes ms.
func closeMaps(ms map[string]*ebpf.Map) {
	for _, m := range ms {
		m.Close()
	}
}

// statusOf is err as an Internal gRPC status, nil for nil.
func statusOf(err error) error {
	if err == nil {
		return nil
	}
	return status.Error(codes.Internal, err.Error())
}

// NodeUnpublishVolume unmounts the volume at its target and forgets it.
// A volume that is not published there is unpublished already (CSI asks
// for OK): its target is only cleaned, of a volume filesystem or an empty
// directory, unless another volume is published there.
func (d *Driver) NodeUnpublishVolume(_ context.Context, r *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	if err := checkVolume(r.GetVolumeId(), r.GetTargetPath(), d.opts.MountUnder); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if owner := d.ownerOf(r.GetTargetPath()); owner != nil && owner.VolumeID != r.GetVolumeId() {
		return &csi.NodeUnpublishVolumeResponse{}, nil
	}
	if err := unmountMaps(r.GetTargetPath()); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if v, ok := d.vols[r.GetVolumeId()]; ok && v.Target == r.GetTargetPath() {
		if err := d.forget(v.VolumeID); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		d.opts.Log.Info("volume unpublished", "volume", v.VolumeID, "pod", v.Pod.String(), "program", v.Program.String())
		d.opts.Changed()
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// forget drops the record of volume id.
func (d *Driver) forget(id string) error {
	if err := d.records.remove(id); err != nil {
		return err
	}
	delete(d.vols, id)
	metrics.SetVolumes(len(d.vols))
	return nil
}

// forgetUnmounted drops the records of volumes whose filesystem is gone
// (the node restarted; the kubelet publishes them again).
func (d *Driver) forgetUnmounted() error {
	var errs []error
	for id, v := range d.vols {
		mounted, err := isVolume(v.Target)
		if err == nil && !mounted {
			err = d.forget(id)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %s of pod %s: %w", id, v.Pod, err))
		}
	}
	return errors.Join(errs...)
}
