// Package oci speaks to OCI registries for bpfleet: it resolves a bytecode
// image tag to the manifest digest that every node then loads, builds
// images in bpfman's bytecode format (one per platform, an index of them
// for several) and map entries artifacts, copies them to a registry or an
// OCI layout, describes an image from its manifests and configs, reads
// pull credentials from a kubernetes.io/dockerconfigjson Secret (or a
// docker config file) and parses the image labels that name the programs
// and maps in the object.
//
// Invariants:
//   - A registry on a loopback address (127.0.0.1, ::1, localhost) is spoken
//     to over plain HTTP, every other registry over HTTPS.
//   - Registry answers are classified once, here: errors.Is(err, ErrNotFound)
//     and errors.Is(err, ErrUnauthorized) hold for the two answers a user can
//     act on, errors.Is(err, ErrInvalidReference) for a reference that does
//     not parse; every other error is returned wrapped, with the reference.
//   - References without a registry host are Docker Hub's ("nginx" is
//     "docker.io/library/nginx"), as for container runtimes; use
//     ParseReference rather than oras' registry.ParseReference on user input.
//   - Nothing in this package trusts the registry beyond the digest it asked
//     for: Resolve checks a digest reference exists, it never rewrites it;
//     Describe reads manifests and configs only, size-limited and checked
//     against their digests, never layers; ReadObject reads one layer,
//     size-limited and checked, and its object with cilium/ebpf (no
//     kernel), for the operator's checks.
//   - Which program types a hook attaches is said once, in hooks.go,
//     beside ProgramType (progtype.go), which types programs by section.
//   - Built artifacts are reproducible: the same objects (or entries) make
//     the same digest; an object must be of its platform's byte order
//     (BytecodeFromELF).
//
// The image store of the node agent (bpfman-agent/image) builds on this
// package; the sub-package ocitest starts a real in-process registry for tests
// and the local development stack.
package oci
