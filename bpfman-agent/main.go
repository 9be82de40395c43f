// Command bpfman-agent is bpfleet's node agent: it runs, privileged, on every
// node, makes the kernel run what the node's NodeProgramSet asks for, and
// reports what runs in the node's NodeProgramReport.
package main

import (
	"flag"
	"os"
	"path/filepath"

	"github.com/bpfleet/bpfleet/internal/buildinfo"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/bpfleet/bpfleet/bpfman-agent/image"
	"github.com/bpfleet/bpfleet/bpfman-agent/nodesync"
	"github.com/bpfleet/bpfleet/internal/memprofile"
	"github.com/bpfleet/bpfleet/internal/oci"
)

func main() {
	var o nodesync.Options
	flag.StringVar(&o.NodeName, "node-name", os.Getenv("NODE_NAME"), "name of this node (default $NODE_NAME)")
	flag.StringVar(&o.PinRoot, "pin-root", "/sys/fs/bpf/bpfleet", "bpffs directory holding bpfleet's pins")
	flag.StringVar(&o.BPFFSMountAt, "bpffs-mount-at", "", "where the agent may mount a BPF filesystem again when the pin root's is unmounted: the pin root or a directory above it (default /sys/fs/bpf for a root under it; none for another root)")
	flag.StringVar(&o.ImageDir, "image-cache", "/var/lib/bpfleet/images", "directory of the content-addressed image cache")
	flag.StringVar(&o.StateDir, "state-dir", "/var/lib/bpfleet/state", "directory of the agent's on-host state (the keys each MapPolicy wrote)")
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8090", `address of the metrics endpoint ("0" disables it)`)
	flag.BoolVar(&o.MetricsSecure, "metrics-secure", false, "serve metrics over HTTPS to callers the API server authorizes for GET /metrics (as in a cluster); plain HTTP otherwise")
	flag.StringVar(&o.LeaseNamespace, "lease-namespace", "bpfleet-system", "namespace of the Lease the agent renews to say it is alive (the agents' namespace)")
	flag.StringVar(&o.PprofAddr, "pprof-bind-address", "", `address serving Go's /debug/pprof (heap, goroutines) for profiling the agent ("" or "0" disables it)`)
	flag.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8091", "address of the health probes (/healthz fails while a sync pass has run for more than twice --image-pull-timeout)")
	flag.Int64Var(&o.ImageCacheMaxBytes, "image-cache-max-bytes", image.DefaultMaxCacheSize, "cap on the image cache's size; images the node's spec uses are kept even above it, the others are removed after each sync pass")
	flag.DurationVar(&o.RegistryTimeout, "registry-timeout", oci.DefaultHeaderTimeout, "how long a registry may take to answer a request, or stay silent while sending a body")
	flag.DurationVar(&o.PullTimeout, "image-pull-timeout", image.DefaultPullTimeout, "bound on one pull of an image or entries artifact, or one look for its signatures")
	var kubeletDir string
	flag.StringVar(&o.CSI.Endpoint, "csi-endpoint", "", `unix socket of the CSI driver csi.bpfleet.io, which mounts programs' maps into the pods their mapAccess grants ("" runs no driver); e.g. /var/lib/kubelet/plugins/csi.bpfleet.io/csi.sock`)
	flag.StringVar(&kubeletDir, "kubelet-dir", "/var/lib/kubelet", "the kubelet's root directory: the driver registers in its plugins_registry and mounts volumes only under its pods directory")
	flag.StringVar(&o.Pods.RuntimeEndpoint, "container-runtime-endpoint", "", `the node's CRI socket, through which the agent finds its pods' network namespaces, cgroups and processes for programs with pod targets ("" watches no pods: such programs wait); e.g. unix:///run/containerd/containerd.sock`)
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	o.CSI.Registry = filepath.Join(kubeletDir, "plugins_registry")
	o.CSI.MountUnder = filepath.Join(kubeletDir, "pods")
	o.CSI.StateDir = filepath.Join(o.StateDir, "csi")
	build := buildinfo.Get()
	o.CSI.Version = build.Version
	nodesync.TuneGC()
	nodesync.ListThenWatch()
	memprofile.EnableIfServed(o.PprofAddr)
	log := ctrl.Log.WithName("setup")
	log.Info("starting bpfman-agent", build.KeysAndValues()...)

	mgr, err := nodesync.NewManager(ctrl.GetConfigOrDie(), nodesync.Scheme(), o)
	if err == nil {
		err = mgr.Start(ctrl.SetupSignalHandler())
	}
	if err != nil {
		log.Error(err, "agent failed")
		os.Exit(1)
	}
}
