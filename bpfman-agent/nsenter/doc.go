// Package nsenter runs a function on an OS thread that has entered
// another Linux namespace (a pod's network namespace, the node's cgroup
// namespace), or a new one. Namespaces belong to threads: the goroutine
// is locked to its thread for the call, and the thread goes back to the
// agent's namespace after it, or, when that fails, is dropped with its
// goroutine (never unlocked), so that no other goroutine ever runs in a
// namespace it did not ask for. Files the function opens or makes there
// keep that namespace.
package nsenter
