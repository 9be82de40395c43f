// Package failure classifies, once for the whole agent, the errors met
// while making the node run a program or write a MapPolicy: Classify says
// what status reports (state, reason, message, verifier log) and whether
// only a new spec can help (Terminal) — then the agent does not retry — or
// a retry may (it returns the error, for backoff). Errors it cannot name
// are transient. Messages and verifier logs are bounded (internal/statusmsg).
//
// The typed errors the agent's packages return for this are defined here:
// Wait (pending on something else on the node), Invalid (a spec the agent
// cannot act on) and Unsupported (the node lacks the hook's facility);
// loader.Error and image.Error carry reasons of their own.
package failure
