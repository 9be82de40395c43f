package v1alpha1

import (
	"encoding/json"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// AttachPoint is where a program attaches, as scheduled to a node: the
// hook's name and its settings, the hook field of the program's kind
// (e.g. {"name": "syscalls/sys_enter_openat"} for Tracepoint). The node's
// agent reads the settings with the hook's own type.
type AttachPoint struct {
	// Hook names the kernel facility, as NodeCapabilities reports it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Hook string `json:"hook"`
	// Settings of the hook, as the program's kind spells them.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:XPreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Settings apiextensionsv1.JSON `json:"settings"`
}

// NewAttachPoint is the attach point of a program on hook with settings.
func NewAttachPoint(hook string, settings any) AttachPoint {
	// Settings are API types of plain fields, which always marshal.
	raw, _ := json.Marshal(settings)
	return AttachPoint{Hook: hook, Settings: apiextensionsv1.JSON{Raw: raw}}
}

// Decode reads the settings into into, a pointer to the hook's type.
func (a AttachPoint) Decode(into any) error {
	if err := json.Unmarshal(a.Settings.Raw, into); err != nil {
		return fmt.Errorf("%s settings: %w", a.Hook, err)
	}
	return nil
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
	// Regex matched against interface names, e.g. "^veth" (Go's RE2
	// syntax, as the agent compiles it).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="''.matches(self) || !''.matches(self)",message="interfaces.regex must be a valid regular expression (RE2 syntax)"
	Regex string `json:"regex,omitempty"`
	// Primary selects the interface of the node's default route.
	// +optional
	Primary bool `json:"primary,omitempty"`
}

// InterfaceName is a Linux interface name.
// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.-]{1,15}$`
type InterfaceName string
