// Package programs is what the node agent calls to make the kernel run a
// set of programs: load, attach and pin a program, adopt it after a
// restart, replace it with a new revision, and remove it.
//
// The pins under the Manager's root are the truth (see package pins for
// the layout). Apply is idempotent: a revision that is already pinned with
// its link alive is adopted, not reloaded. A new revision is attached
// before the old one is unpinned, so the hook never goes empty; a failure
// leaves nothing half-made in the kernel or bpffs, and the previous
// revision keeps running.
//
// Errors that the agent must report are *Error values (an alias of
// loader.Error) whose Reason classifies them; Terminal tells whether a
// retry can help. The Manager holds no file descriptors between calls and
// must be used from one goroutine at a time.
package programs
