// Package nodesync is the agent's reconciler: it makes the kernel run what
// its own node's NodeProgramSet spec asks for, and reports what it really
// runs in that object's status.
//
// The pins and the kernel are the truth: each pass fetches every desired
// object (from the image cache), applies it through programs.Manager (which
// adopts what is already pinned at the same revision), prunes everything
// else under the pin root, and only then writes status. Status is never read
// back to decide anything. The one memory kept between passes is which
// revision of a program failed terminally, so a verifier rejection is not
// retried until the spec changes.
//
// Status is written only when it changes. That the agent is alive it says
// by renewing a Lease named after its node (Heartbeat), which stops when a
// pass has run for longer than the Lease lasts.
package nodesync
