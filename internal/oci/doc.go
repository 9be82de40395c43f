// Package oci speaks to OCI registries for bpfleet: it resolves a bytecode
// image tag to the manifest digest that every node then loads, pushes images
// in bpfman's bytecode format, reads pull credentials from a
// kubernetes.io/dockerconfigjson Secret and parses the image labels that name
// the programs and maps in the object.
//
// Invariants:
//   - A registry on a loopback address (127.0.0.1, ::1, localhost) is spoken
//     to over plain HTTP, every other registry over HTTPS.
//   - Registry answers are classified once, here: errors.Is(err, ErrNotFound)
//     and errors.Is(err, ErrUnauthorized) hold for the two answers a user can
//     act on; every other error is returned wrapped, with the reference.
//   - References without a registry host are Docker Hub's ("nginx" is
//     "docker.io/library/nginx"), as for container runtimes; use
//     ParseReference rather than oras' registry.ParseReference on user input.
//   - Nothing in this package trusts the registry beyond the digest it asked
//     for: Resolve checks a digest reference exists, it never rewrites it.
//
// The image store of the node agent (bpfman-agent/image) builds on this
// package; the sub-package ocitest starts a real in-process registry for tests
// and the local development stack.
package oci
