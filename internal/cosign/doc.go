// Package cosign signs and verifies bytecode images in the format of
// cosign's key-pair signatures, offline: no transparency log, no
// certificate authority, only a public key.
//
// The format is cosign's "simple signing" one, which cosign 2 writes by
// default (and cosign 3 with --new-bundle-format=false): the signatures of
// the manifest sha256:<hex> live in the image's repository under the tag
// "sha256-<hex>.sig", one layer per signature. Each layer's content is the
// JSON payload that was signed (it names the manifest digest) and its
// annotation dev.cosignproject.cosign/signature the base64 signature: ECDSA
// or RSA over the payload's SHA-256, or Ed25519 over the payload. Key files
// are those of `cosign generate-key-pair`: cosign.pub (PEM, PKIX) and
// cosign.key (PKCS #8, sealed with NaCl secretbox under an scrypt key).
//
// Invariants:
//   - A signature counts only if it verifies with one of the given keys and
//     its payload names the very digest being verified; the identity
//     (docker-reference) in the payload is not checked, as cosign does not,
//     so an image copied to a mirror keeps its signatures.
//   - What the registry serves is untrusted: the signature manifest and each
//     payload are size-limited before they are read, and their digests
//     checked.
//   - Verify's errors say which case holds: ErrUnsigned (no signature),
//     ErrNoValidSignature (none verifies), or anything else (the registry
//     could not be read; retrying may help).
package cosign
