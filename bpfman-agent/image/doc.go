// Package image is the node agent's store of OCI artifacts: it pulls an
// artifact by digest into a content-addressed OCI layout on the host,
// verifies it, and hands out what it holds. It knows two kinds:
//
//   - eBPF bytecode images (Fetch): the ELF object and the programs and maps
//     its labels name.
//   - map entries artifacts (FetchEntries, pushed by internal/oci's
//     PushEntries or `oras push`): a MapPolicy's entries, the JSON array of
//     {"key": ..., "value": ...} objects, decompressed. Only its first byte
//     is checked here; the list is parsed by whoever writes the map.
//
// Both share one path (pull policy, cache, verification); only the last
// step, making an Object or Entries of the config and layer, differs.
//
// Invariants:
//   - Artifacts are fetched by digest only. Every byte taken from the
//     registry is checked against the digest that names it before it is
//     used, and again when read back from the cache.
//   - The cache is keyed by digest, not by repository: a second fetch of a
//     digest already held (under any repository name) does not touch the
//     network unless the pull policy is Always.
//   - The registry is untrusted. Manifests, configs, layers, the object and
//     the entries list are size-limited (see the Option functions) before
//     they are read or decompressed. A bytecode layer may be a tar, a gzip'd
//     tar or a bare ELF, and a tar must hold exactly one .o and no path that
//     escapes its root. An entries layer must have one of the entries media
//     types, and may be gzip'd or not whatever that type says.
//   - The object must be a 64-bit EM_BPF ELF of the host's byte order, and
//     must define every program its labels name.
//   - Each kind is refused with InvalidImage when fetched as the other.
//
// Every error Fetch, FetchEntries, ReadPath and CheckELF return is an *Error
// whose Reason (ImagePullFailed, InvalidImage, ImageTooLarge, NotBPF,
// WrongEndianness) is fit for a status condition. Only ImagePullFailed is
// transient: the others mean this artifact never loads and retrying will
// not help.
package image
