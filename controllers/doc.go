// Package controllers holds the operator's cluster-side decisions: which
// nodes run which program (NodeProgramSets), which digest a tag means,
// and how the nodes' reports add up to each program's status.
//
// Four reconcilers share the work. ProgramReconciler runs once per program
// kind, through the v1alpha1.Program interface: it resolves the image,
// checks that the image holds what the program names before any node
// sees it (imagecheck.go: every attachment, globalData; images read once
// per digest, images.go), holds the finalizer, moves the rollout a step and aggregates node status
// into the program's status. MapPolicyReconciler does the same for
// MapPolicies (their entries artifact, the maps of the images of the
// programs they select, their nodes' reports); a node gets a policy only
// at a generation it accepted, checked again by the node pass against
// the digests it schedules (mappolicy.go: policyVerdict). NodeReconciler
// runs per Node: it writes that node's NodeProgramSet from every program
// and policy that selects it (marking it scheduled); when the Node object
// is gone it keeps the set, minus deleted programs, while the node's agent
// holds a live Lease — a deleted Node object must not unload what a
// running host enforces — and deletes it once the Lease expired or was
// released (a garbage collector then deletes the node's report with it). SecretAccessReconciler
// lets the agents read exactly the Secrets the node specs name. Data flows
// one way: program → NodeProgramSet → agent → NodeProgramReport → program
// status; a node's set and report are read together (nodes.go). Whether a
// node's agent is alive, they read from its Lease (agents.go). A lone
// program change reaches its nodes at once, a burst of them each node in
// one write of its set (burst.go).
// A set the API server refuses for its size is written without the
// newest additions and updates, which it lists as withheld and which
// report NodeSpecTooLarge: removals still reach the node (fit.go). Every
// message a status holds is bounded (internal/statusmsg).
//
// The program and MapPolicy reconcilers follow one skeleton (skeleton.go):
// fetch, named steps that each return an error, and one deferred place
// that writes conditions, hands what changed for the nodes to the node
// passes before anything is written (ahead.go), adds the finalizer,
// patches the status and emits Events. What an error means is decided once (errors.go): terminal
// (Stalled, a reconcile.TerminalError tried again every few minutes, since
// a push to a registry sends no event), waiting on nodes (Reconciling,
// looked at again later) or transient (returned, for backoff). Where each
// node's report leaves a resource's status is in status.go; which nodes a
// rollout releases, in rollout.go; where the generation that reached
// every node is kept (a ControllerRevision per program), in revisions.go.
//
// Invariant: lists from the manager's cache are taken without a deep copy
// (client.UnsafeDisableDeepCopy) — at a thousand nodes, copying every set
// on every pass was most of the operator's work — so what they hold is
// read, never written: a reconciler that changes an object Gets it first.
package controllers
