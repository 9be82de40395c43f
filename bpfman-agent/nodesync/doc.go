// Package nodesync is the agent's reconciler: it makes the kernel run what
// its own node's NodeProgramSet asks for, and reports what it really runs in
// the node's NodeProgramReport, which it alone writes, whole.
//
// The pins and the kernel are the truth: each pass fetches every desired
// object (from the image cache), applies it through programs.Manager (which
// adopts what is already pinned at the same revision), prunes everything
// else under the pin root, and only then writes the report. The report is
// never read back to decide what the kernel runs, only whether it must be
// written again (it changed, is gone, or belongs to an earlier set). The
// one memory kept between passes is which revision of a program failed
// terminally, so a verifier rejection is not retried until the spec
// changes.
//
// That the agent is alive it says by renewing a Lease named after its node
// (Heartbeat), which stops when a pass has run for longer than the Lease
// lasts.
package nodesync
