package nodesync

import (
	"context"

	"github.com/cilium/ebpf"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/csi"
)

// CSIOptions configure the agent's CSI driver, which mounts programs'
// maps into the pods their mapAccess grants (package csi).
type CSIOptions struct {
	// Endpoint is the driver's unix socket; "" runs no driver.
	Endpoint string
	// KubeletEndpoint is the socket's path as the kubelet sees it, when
	// the agent sees it elsewhere ("": Endpoint).
	KubeletEndpoint string
	// Registry is the kubelet's plugin registration directory; "" does
	// not register (tests call the socket themselves).
	Registry string
	// MountUnder is the directory every target path must be in: the
	// kubelet's pods directory.
	MountUnder string
	// StateDir holds the records of published volumes.
	StateDir string
	// Version is the agent's, which the driver names.
	Version string
}

// addVolumes makes the CSI driver, when the options ask for one: it reads
// programs from the node's set and the pins, each publish or unpublish
// starts a pass (the report lists the mounts), and each pass ends with
// the driver following the programs' maps (see csi.Driver.Follow).
func addVolumes(mgr ctrl.Manager, r *Reconciler, o Options) error {
	if o.CSI.Endpoint == "" {
		return nil
	}
	log := ctrl.Log.WithName("csi")
	d := csi.New(nodePrograms{r}, csi.Options{
		NodeID: o.NodeName, Version: o.CSI.Version, StateDir: o.CSI.StateDir, MountUnder: o.CSI.MountUnder,
		Changed: r.poke, Log: log,
	})
	r.Volumes = d
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		// The agent goes on enforcing its programs without the driver.
		if err := d.Serve(ctx, o.CSI.Endpoint, o.CSI.Registry, o.CSI.KubeletEndpoint); err != nil {
			log.Error(err, "the CSI driver stopped: pods cannot mount maps on this node", "endpoint", o.CSI.Endpoint)
		}
		return nil
	}))
}

// poke asks for a pass, without waiting for it.
func (r *Reconciler) poke() {
	select {
	case r.pokes <- struct{}{}:
	default: // one is asked for already
	}
}

// followVolumes lets the driver bring its volumes to the maps the pass
// left running.
func (r *Reconciler) followVolumes(ctx context.Context) {
	if r.Volumes == nil {
		return
	}
	if err := r.Volumes.Follow(); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "follow the programs' maps in the pods' volumes")
	}
}

// fillMounts puts in each report entry the pods that mount its maps.
func (r *Reconciler) fillMounts(statuses []bpfleetv1.NodeProgramStatus) {
	if r.Volumes == nil {
		return
	}
	mounts := r.Volumes.Mounts()
	for i := range statuses {
		m := mounts[string(statuses[i].UID)]
		statuses[i].Mounts, statuses[i].MountCount = m.List, m.Count
	}
}

// nodePrograms is what the driver reads of the node's programs: its set
// as last seen, and the pins.
type nodePrograms struct{ r *Reconciler }

// Lookup finds ref's entry in the node's set.
func (p nodePrograms) Lookup(ref csi.Ref) (bpfleetv1.NodeProgram, bool, error) {
	set := p.r.held.last()
	if set == nil {
		return bpfleetv1.NodeProgram{}, false, csi.ErrSetUnknown
	}
	for _, np := range set.Spec.Programs {
		if np.Kind == ref.Kind && np.Namespace == ref.Namespace && np.Name == ref.Name && np.Invalid == "" {
			return np, true, nil
		}
	}
	return bpfleetv1.NodeProgram{}, false, nil
}

// MapIDs lists the maps uid runs with.
func (p nodePrograms) MapIDs(uid string) (map[string]uint32, error) { return p.r.Programs.MapIDs(uid) }

// Map opens one of them.
func (p nodePrograms) Map(uid, name string) (*ebpf.Map, error) { return p.r.Programs.Map(uid, name) }
