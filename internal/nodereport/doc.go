// Package nodereport is the agent's side of the contract between the
// operator and a node's agent: the three per-node objects the agent writes
// or makes. The agent, the scale harness's simulated agents and the tests
// all use it, so that what the operator reads is written one way.
//
//   - OwnSet makes the node's NodeProgramSet, empty, when the operator has
//     not yet (the agent may create only its own, only empty), or reads it.
//   - WriteReport writes the node's NodeProgramReport, whole and controlled
//     by the set, so that it goes with the set (the agent decides when:
//     bpfman-agent/nodesync's writtenReport).
//   - Heartbeat renews the node's Lease, owned by the set, every
//     LeaseDuration/4; the operator counts the agent silent after
//     LeaseDuration without a renewal.
//
// Invariants: the agent is the only writer of its report and Lease, so
// nothing is merged: what it no longer reports is gone. A report or Lease
// not owned by the set as it is now belongs to an earlier set of the node.
package nodereport
