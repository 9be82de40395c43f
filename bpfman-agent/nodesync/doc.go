// Package nodesync is the agent's pass: it makes the kernel run what its
// own node's NodeProgramSet asks for, and reports what it really runs in
// the node's NodeProgramReport, which it alone writes, whole.
//
// A pass first checks that the pin root still holds the pins (a bpffs
// unmounted under the agent is mounted again and every program reloaded,
// its status saying why; a root that cannot be made again fails every
// program with PinRootUnavailable), then reads the set (creating it empty if the operator has not yet, or
// it was deleted: such a set is not Scheduled, and the pass then unloads
// nothing it runs, reporting it NotScheduled, until the operator writes
// the spec),
// plans every desired program's targets through its hook (attach.Lookup:
// the hook plans from the node's facts, read once per pass and updated
// with each program's links), applies them (fetching its object through
// image.Fetcher, which checks signatures, and applying it through
// programs.Manager, which adopts what is already pinned at the same
// revision), prunes everything else under the pin root, has the MapPolicies
// written (mappolicy.Writer), and only then writes the report
// (internal/nodereport). The pins and the kernel are the truth: the report
// is never read back to decide what the kernel runs, only whether it must
// be written again (it changed, is gone, or belongs to an earlier set).
// The agent watches its set itself and keeps the version its watch last
// brought, a watch per event (heldSet); its cache holds the report's
// metadata only: it remembers the resourceVersion and a hash of the
// report it last wrote, reading the report itself only when someone else
// may have changed it (writtenReport).
// Errors are classified by package failure: terminal ones are reported and
// remembered, transient ones returned for backoff.
//
// The Reconciler itself keeps, between passes: the kernel's probe results
// (a hook whose probe was inconclusive is probed again each pass, and
// published only once known; an optional program of an application on
// such a hook waits, Pending, unless it runs already, and never stops
// the others); which revision of a program
// failed terminally (so a verifier rejection is not retried until the spec
// or the targets change), whether the kernel's run statistics are on, and,
// for readiness and the Lease, whether a pass has reported, when the
// running pass started and the UID of the node's set. The MapPolicy
// memories (and their on-disk ledger) are the Writer's, the verified
// signatures the Fetcher's.
//
// With a CSI driver (Options.CSI, package csi), a pass also lets the
// driver bring the pods' volumes to the maps the programs now run with,
// and the report lists, per program, the pods that mount its maps; each
// publish or unpublish starts a pass (poke) so that the report says so.
// The driver reads the node's set as the watch last brought it and the
// pins; it never waits for a pass.
//
// After each pass the image cache is collected (imagesInUse: what the
// spec's programs and MapPolicies name stays). The agent's liveness check
// (/healthz) fails while a pass has run for more than StuckAfter (twice the
// pull timeout): every registry request is bounded, so such a pass is
// stuck, and a restart loses nothing (pins keep the programs running).
//
// That the agent is alive it says by renewing a Lease named after its node
// (nodereport.Heartbeat), which stops when a pass has run for longer than
// the Lease lasts. NewManager wires the pass, the interface watch that
// starts one when interfaces change, the metrics and the Lease.
package nodesync
