// Package maps writes the entries a MapPolicy declares into live eBPF
// maps, so that a control plane steers programs without reloading them.
//
// Encode and Decode are the pure half: they turn an entry's key or value,
// as JSON from the API, into the exact bytes of the map's key or value
// type, through the map's BTF where it has one, and back. Encode checks
// every width and range; it never pads or truncates a value silently. It
// reads the JSON as it writes the bytes, never building it (a list of
// 100,000 entries costs Apply no allocation per entry), and reports
// encoding/json's error for text that is not JSON.
//
// Apply is the kernel half. It encodes every entry before its first
// kernel call, so a bad entry is reported (per index, in Result.Failed)
// before anything is written. Without atomic, the good entries are
// written and the bad ones reported; with atomic, any bad entry means
// nothing is written, and a kernel failure part way (a full map) is rolled
// back to the map's previous contents for the keys it touched. Apply uses
// the kernel's batch operations where the map type has them and falls
// back to one call per entry where it does not. In mode Exact, a key
// whose entry failed (say, a bad value) is left as it is, not removed.
//
// A long list is encoded on every processor, each entry into its own row,
// and its keys put in a set by two goroutines, each the keys of half the
// table: the entries that fail, and the errors, are those of one pass in
// list order.
//
// A per-CPU map (hash, array, LRU hash) holds a copy of each key's value
// per possible CPU. An entry's value is one CPU's, encoded and checked as
// for any map (the map's value size and BTF are one CPU's); the write
// gives it to every possible CPU, in batches of at most 1 MiB of per-CPU
// values, however many CPUs. Removing zeroes every CPU's copy of an
// array index; an exact policy clears an index any CPU holds non-zero;
// an atomic write rolls each CPU's own value back.
//
// Array maps have no absent keys: "deleting" an array entry sets its value
// to zeros, and Usage reports an array as full (entries = max_entries).
//
// Usage counts a hash map's entries by reading the map, in time and reads
// that grow with max_entries. A Counter (kernel 6.6+) reads the count the
// kernel keeps instead, through a BPF map iterator, in microseconds; the
// agent holds one, and Apply counts with it (Options.Counter).
//
// The package never closes or pins the maps it is given: the caller owns
// their file descriptors.
package maps
