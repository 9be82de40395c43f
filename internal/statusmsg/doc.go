// Package statusmsg bounds the text bpfleet writes into status, for the
// agent (its report) and the operator (conditions, failures, Events) alike:
// one object holds the messages of many programs or nodes, and a message
// can name thousands of them (a 2,000-program object once gave a 978 KB
// message), while a condition's message may hold 32 KiB, an Event's note
// 1 KiB and a whole object about 1.5 MB in etcd.
//
// Bound keeps a message's head (where the cause is said), Tail a log's end
// (where the verifier says why it refused). Both cut at a rune boundary and
// say how much they left out; both return their input when it fits.
package statusmsg
