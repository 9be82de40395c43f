// Package controllers holds the operator's cluster-side decisions: which
// nodes run which program (NodeProgramSets), which digest a tag means,
// and how the nodes' reports add up to each program's status.
//
// Two reconcilers share the work. ProgramReconciler runs once per program
// kind, through the v1alpha1.Program interface: it resolves the image,
// holds the finalizer, and aggregates node status into the program's status.
// NodeReconciler runs per Node: it writes that node's NodeProgramSet from
// every program that selects it, and deletes it when the Node goes (a
// garbage collector deletes the node's report with it). Data flows one
// way: program → NodeProgramSet → agent → NodeProgramReport → program
// status; a node's set and report are read together (nodes.go). Whether a
// node's agent is alive, they read from its Lease (agents.go). A burst of program changes reaches each node
// in one write of its set (burst.go).
//
// Invariant: lists from the manager's cache are taken without a deep copy
// (client.UnsafeDisableDeepCopy) — at a thousand nodes, copying every set
// on every pass was most of the operator's work — so what they hold is
// read, never written: a reconciler that changes an object Gets it first.
package controllers
