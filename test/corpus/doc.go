// Package corpus runs third-party BPF objects, those Debian packages ship
// (test/corpus/corpus.list; hack/corpus.sh caches them in .cache/corpus/),
// through bpfleet as a platform team and a cluster user would: each object
// is packaged with `bpfleet image build`, pushed and inspected, and each of
// its programs is applied as the program kind its type calls for, on the
// hooks this kernel has, against the local stack (a real apiserver, the
// operator, the agent on the host kernel). The test asserts today's result
// for every program (Ready, Unsupported here, failed with which message,
// or no kind for its type), so that a change in what bpfleet accepts shows
// up; docs/compatibility.md lists them.
package corpus
