// Package vmspec is what hack/vmkernel/run and the VMs' init say to each
// other through the writable 9p share "results": the runner writes
// SpecFile; the init writes, for each test binary it runs, its output
// (Test.Name + ".out") and then, once it exited, its Result
// (Test.Name + ResultSuffix). A binary without a Result did not finish:
// the VM crashed or was killed while it ran, or before.
package vmspec

// The share and the files in it.
const (
	// ResultsTag is the 9p mount tag of the results folder.
	ResultsTag = "results"
	// HostRootTag is the 9p mount tag of the host's root.
	HostRootTag = "hostroot"
	// GuestResults is where the tests' root has the results folder.
	GuestResults = "/run/bpfleet-vm"
	// SpecFile is the runner's Spec, in JSON.
	SpecFile = "spec.json"
	// ResultSuffix ends the name of a binary's Result file, in JSON.
	ResultSuffix = ".result.json"
)

// HostAddr is the host's address from the guest in qemu's user-mode
// network: connections to it reach the host's loopback.
const HostAddr = "10.0.2.2"

// Spec says what a VM runs.
type Spec struct {
	// Modules is the host folder holding the guest kernel's modules
	// (lib/modules/<version>), mounted at the guest's /lib/modules/<version>
	// so that the kernel's requests for modules (veth, sch_ingress...) are
	// served.
	Modules string `json:"modules"`
	// Config is the host file holding the guest kernel's configuration,
	// bound at the guest's /boot/config-<version> as Debian installs it
	// (the agent reads it for .kconfig externs).
	Config string `json:"config"`
	// Env is added to each binary's environment.
	Env []string `json:"env,omitempty"`
	// Forward lists host TCP ports (the host's API server) the tests reach
	// on the guest's own loopback, as on the host: the init brings up the
	// guest's network (qemu's user mode, the host at HostAddr) and relays
	// each 127.0.0.1:port to HostAddr:port.
	Forward []int `json:"forward,omitempty"`
	// Tests are run one after the other.
	Tests []Test `json:"tests"`
}

// Test is one test binary (`go test -c`) run in its package's folder, as
// `go test` does.
type Test struct {
	// Name names the output file, Name + ".out".
	Name   string   `json:"name"`
	Dir    string   `json:"dir"`
	Binary string   `json:"binary"`
	Args   []string `json:"args,omitempty"`
}

// Result is how one test binary ended.
type Result struct {
	Name string `json:"name"`
	// Kernel is the guest's uname -r.
	Kernel   string  `json:"kernel"`
	ExitCode int     `json:"exitCode"`
	Seconds  float64 `json:"seconds"`
	// Error says why the binary could not run, if it could not.
	Error string `json:"error,omitempty"`
}
