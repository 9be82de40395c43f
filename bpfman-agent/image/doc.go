// Package image is the node agent's store of eBPF bytecode images: it pulls
// an image by digest into a content-addressed OCI layout on the host,
// verifies it, and hands out the ELF object and the programs and maps its
// labels name.
//
// Invariants:
//   - Images are fetched by digest only. Every byte taken from the registry
//     is checked against the digest that names it before it is used, and
//     again when read back from the cache.
//   - The cache is keyed by digest, not by repository: a second Fetch of a
//     digest already held (under any repository name) does not touch the
//     network unless the pull policy is Always.
//   - The registry is untrusted. Manifests, configs, layers and the object
//     are size-limited (see the Option functions) before they are read or
//     decompressed; a layer may be a tar, a gzip'd tar or a bare ELF, and a
//     tar must hold exactly one .o and no path that escapes its root.
//   - The object must be a 64-bit EM_BPF ELF of the host's byte order, and
//     must define every program its labels name.
//
// Every error Fetch, ReadPath and CheckELF return is an *Error whose Reason
// (ImagePullFailed, InvalidImage, ImageTooLarge, NotBPF, WrongEndianness) is
// fit for a status condition. Only ImagePullFailed is transient: the others
// mean this image never loads and retrying will not help.
package image
