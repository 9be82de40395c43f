// Package memprofile turns the Go runtime's heap profiling off from the
// start of a binary that imports it, before the packages that allocate
// most at init (the Kubernetes API types registering themselves, the
// protobuf registry) run. By default the runtime samples an allocation in
// every 512 KiB and keeps, from the first sample, a hash table of the
// sampled call stacks and their counts: about 2 MiB of the idle agent's
// resident memory (measured with BenchmarkIdleFootprint), for profiles
// nobody reads unless /debug/pprof is served.
//
// Go orders package initialization by import path among the packages
// whose imports are initialized; this one imports only the runtime, so it
// runs before any package under go.*, golang.org, google.golang.org,
// k8s.io or sigs.k8s.io (TestHeapProfilingOffFromTheStart in
// bpfman-agent checks the order in the built agent).
package memprofile
