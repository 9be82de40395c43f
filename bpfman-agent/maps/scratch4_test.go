package maps

import (
	"testing"

	"github.com/bpfleet/bpfleet/internal/testkernel"
)

func BenchmarkScratchSplit(b *testing.B) {
	testkernel.Require(b)
	spec := blocklistSpec(b).Copy()
	spec.MaxEntries = 131072
	m := newMap(b, spec)
	entries := blocklistEntries(100000)
	w := &writer{m: m}
	p := plan(m, spec.Key, spec.Value, entries)
	var pl, wr, us, enc clock
	for b.Loop() {
		pl.add(b, func() error { plan(m, spec.Key, spec.Value, entries); return nil })
		wr.add(b, func() error { return writeAll(w, p) })
		us.add(b, func() error { _, _, err := Usage(m); return err })
		enc.add(b, func() error {
			k, v := newEncoder(spec.Key, 4), newEncoder(spec.Value, 8)
			for i := range entries {
				k.into(p.keys.at(i), entries[i].Key)
				v.into(p.values.at(i), entries[i].Value)
			}
			return nil
		})
	}
	pl.report(b, "plan")
	wr.report(b, "write")
	us.report(b, "usage")
	enc.report(b, "encode")
}
