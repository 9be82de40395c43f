// Package metrics publishes what the agent knows to Prometheus: its loads,
// verifier rejections and image fetches (counters in controller-runtime's
// registry), the run statistics of the programs that ask (RunStats, read
// at scrape time), and its maps (below).
//
// Map usage (entries against max entries, per MapPolicy) lives in two
// gauges of controller-runtime's metrics Registry, which the agent's
// manager serves: SetMapUsage sets them after a policy is written or its
// usage refreshed, ForgetPolicy drops a policy that left the node.
//
// An Exporter publishes the values of the maps that a MapPolicy exports.
// It reads them at scrape time, never in the background: each series is a
// const metric holding the value the map holds now, so a deleted key has
// no series at the next scrape and a map that is recreated reads as a
// counter reset. Collect opens each map through its Export's Open and
// closes it before returning; it reads at most MaxSeries+1 entries of a
// map, so a scrape stays short however large the map. A map that cannot
// be opened or read, or whose BTF cannot be turned into labels and
// numbers, is skipped and counted in bpfleet_agent_map_export_errors_total;
// hitting MaxSeries sets bpfleet_agent_map_export_truncated. Collect never
// emits two series that a Gather would reject (same name and labels, or
// one name with different label names), since one such series would fail
// the whole scrape.
//
// Values are numbers: an integer or enum value is one series; a struct
// value is one series per integer or enum member (label "field"); other
// members (arrays, nested structs, bitfields) are left out, and a value
// with no number at all (a char array, a struct of strings) is not
// exported: each scrape counts it in export_errors_total. A per-CPU map
// (hash, array, LRU hash) holds a copy per possible CPU: each number is
// the sum of the copies, for counters and gauges alike (what a program
// counted on every CPU). A MapPolicy writes its value to every CPU, so
// an entry it seeds with n reads n times the possible CPUs until the
// program counts on.
//
// An Exporter is an unchecked collector (its Describe sends nothing):
// its metric names and labels follow the policies it is given.
package metrics
