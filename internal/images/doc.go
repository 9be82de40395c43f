// Package images builds bpfleet's container images from the Go main packages
// of this module, without Docker, and pushes them to a registry.
//
// An image is one static binary (CGO_ENABLED=0, -trimpath, stripped) per
// platform, cross-compiled with the go command into a caller-given cache
// directory, in a single layer on an empty base: the binary at /<name>,
// /etc/passwd and /etc/group naming root (0) and nonroot (65532), and the
// host's CA bundle at /etc/ssl/certs/ca-certificates.crt. The platforms'
// images are gathered in an OCI image index, each with its platform in the
// index and in its config (containerd matches on them).
//
// Invariants:
//   - Builds are reproducible: the same tree, Go toolchain and CA bundle make
//     the same digests. Every date (the config's Created, the files' mtimes)
//     is the commit's time, never the clock's.
//   - The revision label is the commit built, suffixed "-dirty" when tracked
//     files differ from it (untracked files are not looked at); both are read
//     from git unless the caller sets them.
//   - A registry on a loopback address (127.0.0.1, ::1, localhost) is pushed
//     to over plain HTTP, as internal/oci speaks to it; every other registry
//     with the credentials of the default keychain (docker's config file).
//   - Nothing here runs a container or needs root; the go command and git
//     are the only programs run.
package images
