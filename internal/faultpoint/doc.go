// Package faultpoint kills the process at a named step, for the
// fault-injection tests (test/faults): they start the agent with
// BPFLEET_KILL_AT=<step>[#<nth>] and check that whatever the kill left
// behind heals after a restart.
//
// It is for tests only. Off (the variable unset, as in production), a
// Point costs one branch on a bool, read once at start. On, the nth call
// of Point with that name (the first without #<nth>) sends SIGKILL to the
// process at once: no deferred function, finalizer or signal handler runs,
// as in a crash, an OOM kill or a node losing power. With
// BPFLEET_FAULT_TRACE=<file>, every Point appends its name to the file: a
// test learns from one run which steps its scenario passes, and how often.
package faultpoint
