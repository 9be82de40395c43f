// Package image is the node agent's store of OCI artifacts: it pulls an
// artifact by digest into a content-addressed OCI layout on the host,
// verifies it, and hands out what it holds. It knows two kinds:
//
//   - eBPF bytecode images (Fetch): the ELF object and the programs and maps
//     its labels name (none for an image without labels, which the
//     operator takes too: its programs are the object's).
//   - map entries artifacts (FetchEntries, pushed by internal/oci's
//     PushEntries or `oras push`): a MapPolicy's entries, the JSON array of
//     {"key": ..., "value": ...} objects, decompressed. Only its first byte
//     is checked here; the list is parsed by whoever writes the map.
//
// Both share one path (pull policy, cache, verification); only the last
// step, making an Object or Entries of the config and layer, differs.
//
// Fetcher is the fetch the agent uses: for a Source as a node's spec names
// it, it reads the pull credentials and signature keys through Secrets
// (which the agent supplies: they come from Secrets, through the API),
// fetches by digest through the Store, and checks the artifact against
// every signature policy of the Source (cosign, offline, with the keys
// given). It remembers which digest passed which policy for ten minutes;
// after that the registry is asked for the signatures again, so a revoked
// signature or rotated key is noticed. A file on the node (Source.Path)
// carries no signature: it is refused where a policy requires one.
//
// Invariants:
//   - Artifacts are fetched by digest only. Every byte taken from the
//     registry is checked against the digest that names it before it is
//     used, and again when read back from the cache.
//   - The cache is keyed by digest, not by repository: a second fetch of a
//     digest already held (under any repository name) does not touch the
//     network unless the pull policy is Always.
//   - A torn cache (index.json cut short, a blob of the wrong bytes, after
//     a crash or a full disk) never stops the store from opening: NewStore
//     sets the index aside (index.json.torn), removes the damaged blobs,
//     and what was lost is pulled again; a damaged blob met later is
//     removed and pulled again too.
//   - The cache holds what the node uses: Collect (which the agent calls
//     after each pass, with the artifacts its spec names) removes every
//     other artifact and every blob none names, and ingest/ leftovers;
//     NewStore removes all of ingest/. Artifacts in use are kept even
//     above the cap (WithMaxCacheSize); when use is unknown, the cap is
//     met by removing those used longest ago first. Collect excludes
//     fetches (a lock), so it never removes a pull's blobs before its
//     manifest names them. One directory belongs to one Store.
//   - The cache is private: directories 0700, files 0600 (blobs 0400),
//     restored at start on a cache left open to others.
//   - No registry can hang a fetch: each request is bounded (connect, the
//     wait for headers, each silence in a body; internal/oci's
//     NewHTTPClient), each pull and each look for signatures as a whole
//     (WithPullTimeout). A timeout is ImagePullFailed, "registry <host>
//     timed out: ...".
//   - The registry is untrusted. Manifests, configs, layers, the object and
//     the entries list are size-limited (see the Option functions) before
//     they are read or decompressed. A bytecode layer may be a tar, a gzip'd
//     tar or a bare ELF, and a tar must hold exactly one .o and no path that
//     escapes its root. An entries layer must have one of the entries media
//     types, and may be gzip'd or not whatever that type says.
//   - The object must be a 64-bit EM_BPF ELF of the host's byte order, and
//     must define every program its labels name (an image without labels
//     names none: the loader finds the program a node asks for, or fails).
//   - Each kind is refused with InvalidImage when fetched as the other.
//
// Every error Fetch, FetchEntries, ReadPath, CheckELF and a Fetcher's
// methods return is an *Error whose Reason (ImagePullFailed, InvalidImage,
// ImageTooLarge, NotBPF, WrongEndianness, SignatureInvalid) is fit for a
// status condition. Only ImagePullFailed is transient: the others mean
// this artifact never loads and retrying will not help (a Fetcher checks
// signatures again on each call, so a signature added later is found).
package image
