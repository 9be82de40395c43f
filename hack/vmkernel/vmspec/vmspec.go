// Package vmspec is what hack/vmkernel/run and the VMs' init say to each
// other through the writable 9p share "results": the runner writes
// SpecFile, the init writes one output file per test binary and, last,
// DoneFile.
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
	// DoneFile is the init's Done, in JSON, written once every binary ran.
	DoneFile = "done.json"
)

// Spec says what a VM runs.
type Spec struct {
	// Modules is the host folder holding the guest kernel's modules
	// (lib/modules/<version>), mounted at the guest's /lib/modules/<version>
	// so that the kernel's requests for modules (veth, sch_ingress...) are
	// served.
	Modules string `json:"modules"`
	// Env is added to each binary's environment.
	Env []string `json:"env,omitempty"`
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

// Done is what ran in a VM.
type Done struct {
	// Kernel is the guest's uname -r.
	Kernel  string   `json:"kernel"`
	Results []Result `json:"results"`
}

// Result is how one test binary ended.
type Result struct {
	Name     string  `json:"name"`
	ExitCode int     `json:"exitCode"`
	Seconds  float64 `json:"seconds"`
	// Error says why the binary could not run, if it could not.
	Error string `json:"error,omitempty"`
}
