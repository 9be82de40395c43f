// Package pods finds the running pods of the agent's node and where each
// runs in the kernel: its sandbox's network namespace, its interfaces,
// its cgroup, and the processes of its containers. The pods come from the
// agent's cache of its own node's pods (and the namespaces' labels); the
// processes from the node's container runtime, through CRI
// (Runtime): the sandbox's and each container's first process.
//
// A process is found once and remembered with its start time: a PID whose
// process is gone (and maybe reused) is found again, never trusted. An
// error of the runtime as a whole fails the list (nothing is added or
// removed while it lasts); a pod the runtime does not know carries its
// error, for its targets to report.
package pods
