// Package mappolicy writes the node's MapPolicies into its eBPF maps: the
// entries a policy lists (in the MapPolicy, or in an entries artifact
// fetched by digest and checked like bytecode) go into the map of each
// selected program that runs, or into the one shared map; a policy being
// deleted has its keys removed. The agent's pass calls Writer.Apply once,
// after its programs are applied, with their objects (for the maps' BTF).
//
// A Writer keeps three memories between passes:
//   - the ledger, on the host (StateDir/mappolicies, a file per policy):
//     the keys each policy last wrote, so that a key a merge policy stops
//     listing is removed, after an agent restart too. A missing or torn
//     ledger means no key is known: nothing is removed that should stay.
//     It is written durably (synced, renamed) with the old and new keys
//     before a map is written, and narrowed to the new after (each only
//     if it does not hold those keys already): a crash between leaves no
//     key in a map that the ledger does not know of.
//   - which policy generation was written into which kernel maps: a policy
//     is written once per generation and set of maps, never on every pass,
//     since a rewrite would reset the values programs keep in the entries
//     (counters). Its status is refreshed with the maps' usage. An
//     atomic write that found no room wrote nothing: it is not
//     remembered, and the next pass tries again.
//   - which policies' map usage is published, so that the series of a
//     policy that left the node or changed its map are dropped.
//
// Errors (classified by package failure, as all the agent's): a policy
// waiting for its programs or for the operator is Pending;
// a bad spec (entries for a map of a type that holds none a policy can
// write, see internal/maptype), bad entries or an artifact that never
// loads is terminal (in status, not returned, not tried again before a
// new generation); anything else is returned from Apply, joined, for
// backoff. MapFull is not terminal: room may come.
package mappolicy
