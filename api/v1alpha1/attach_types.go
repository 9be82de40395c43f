package v1alpha1

// AttachPoint is exactly one hook; each program kind sets its own.
type AttachPoint struct {
	// +optional
	Tracepoint *TracepointAttach `json:"tracepoint,omitempty"`
	// +optional
	XDP *XDPAttach `json:"xdp,omitempty"`
	// +optional
	TCX *TCXAttach `json:"tcx,omitempty"`
	// +optional
	Uprobe *UprobeAttach `json:"uprobe,omitempty"`
	// +optional
	Kprobe *KprobeAttach `json:"kprobe,omitempty"`
	// +optional
	Fentry *FentryAttach `json:"fentry,omitempty"`
	// +optional
	Fexit *FentryAttach `json:"fexit,omitempty"`
}

// Hook names, as NodeCapabilities reports them.
const (
	HookTracepoint = "Tracepoint"
	HookXDP        = "XDP"
	HookTCX        = "TCX"
	HookUprobe     = "Uprobe"
	HookKprobe     = "Kprobe"
	HookFentry     = "Fentry"
	HookFexit      = "Fexit"
)

// Hook names the kernel facility the attach point needs.
func (a AttachPoint) Hook() string {
	switch {
	case a.Tracepoint != nil:
		return HookTracepoint
	case a.XDP != nil:
		return HookXDP
	case a.TCX != nil:
		return HookTCX
	case a.Uprobe != nil:
		return HookUprobe
	case a.Kprobe != nil:
		return HookKprobe
	case a.Fentry != nil:
		return HookFentry
	case a.Fexit != nil:
		return HookFexit
	}
	return ""
}

// InterfaceSelector picks network interfaces on each node: exactly one of
// names, regex, or primary.
// +kubebuilder:validation:XValidation:rule="[has(self.names), has(self.regex), has(self.primary) && self.primary].exists_one(x, x)",message="set exactly one of interfaces.names, interfaces.regex or interfaces.primary: true"
type InterfaceSelector struct {
	// Names of interfaces, e.g. [eth0]. Absent ones are attached when
	// they appear.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	Names []InterfaceName `json:"names,omitempty"`
	// Regex matched against interface names, e.g. "^veth".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Regex string `json:"regex,omitempty"`
	// Primary selects the interface of the node's default route.
	// +optional
	Primary bool `json:"primary,omitempty"`
}

// InterfaceName is a Linux interface name.
// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]{1,15}$`
type InterfaceName string

// XDPMode is how an XDP program attaches.
// +kubebuilder:validation:Enum=native;generic;auto
type XDPMode string

// XDP modes.
const (
	XDPNative  XDPMode = "native"
	XDPGeneric XDPMode = "generic"
	XDPAuto    XDPMode = "auto"
)

// XDPAttach attaches to the XDP hook of network interfaces.
type XDPAttach struct {
	Interfaces InterfaceSelector `json:"interfaces"`
	// Mode: native (driver), generic (skb), or auto (native, else generic;
	// status says which).
	// +optional
	// +kubebuilder:default=auto
	Mode XDPMode `json:"mode,omitempty"`
}

// TCXDirection is the traffic direction of a TCX hook.
// +kubebuilder:validation:Enum=ingress;egress
type TCXDirection string

// TCX directions.
const (
	TCXIngress TCXDirection = "ingress"
	TCXEgress  TCXDirection = "egress"
)

// TCXAttach attaches to the TCX hook of network interfaces.
type TCXAttach struct {
	Interfaces InterfaceSelector `json:"interfaces"`
	Direction  TCXDirection      `json:"direction"`
	// Order among the programs on the same hook; default last.
	// +optional
	Order *TCXOrder `json:"order,omitempty"`
}

// TCXOrder places a program on its hook: exactly one of first, last,
// before or after another TcxProgram (by name) on the same hook.
// +kubebuilder:validation:XValidation:rule="[has(self.first) && self.first, has(self.last) && self.last, has(self.before), has(self.after)].exists_one(x, x)",message="set exactly one of order.first, order.last, order.before or order.after"
type TCXOrder struct {
	// +optional
	First bool `json:"first,omitempty"`
	// +optional
	Last bool `json:"last,omitempty"`
	// Before names a TcxProgram this one runs before.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Before string `json:"before,omitempty"`
	// After names a TcxProgram this one runs after.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	After string `json:"after,omitempty"`
}

// UprobeAttach attaches to a function of a user-space binary or library.
// +kubebuilder:validation:XValidation:rule="has(self.function) || has(self.offset)",message="set uprobe.function, uprobe.offset, or both"
type UprobeAttach struct {
	// Target is an absolute path of a binary or library, or a library
	// name such as "libc".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="!self.contains('..')",message="uprobe.target must not contain '..'"
	Target string `json:"target"`
	// Function is the symbol to probe.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z_.$@][A-Za-z0-9_.$@]*$`
	Function string `json:"function,omitempty"`
	// Offset from the function (or from the file start without one).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Offset int64 `json:"offset,omitempty"`
	// Retprobe probes the function's return.
	// +optional
	Retprobe bool `json:"retprobe,omitempty"`
	// PID limits the probe to one process; a target path is then resolved
	// inside that process's root (/proc/<pid>/root), for containers.
	// +optional
	// +kubebuilder:validation:Minimum=1
	PID int32 `json:"pid,omitempty"`
}

// KprobeAttach attaches to a kernel function.
type KprobeAttach struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_.]*$`
	Function string `json:"function"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	Offset int64 `json:"offset,omitempty"`
	// +optional
	Retprobe bool `json:"retprobe,omitempty"`
}

// FentryAttach attaches to the entry or exit of a kernel function via BTF.
type FentryAttach struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Function string `json:"function"`
}
