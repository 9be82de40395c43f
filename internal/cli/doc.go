// Package cli is the bpfleet command line (cmd/bpfleet), on cobra:
//
//	bpfleet image build|push|inspect|ls|rm|sign|verify|generate-key-pair
//	bpfleet status [KIND/NAME]   (also kubectl bpfleet status)
//	bpfleet nodes                (also kubectl bpfleet nodes)
//	bpfleet version
//	bpfleet completion bash|zsh|fish|powershell
//
// Run as kubectl-bpfleet, the binary is a kubectl plugin holding status,
// nodes and version. Image commands work on a local store
// ($BPFLEET_STORE, default ~/.local/share/bpfleet/images) and registries
// (oras-go); status and nodes read the API only: each node's
// NodeProgramSet (what it is asked to run) and NodeProgramReport (what it
// runs), and the agents' Leases. Errors map to the exit codes in
// root.go, which scripts rely on.
package cli
