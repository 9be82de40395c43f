package image

import (
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
)

// recentBytes is how many bytes of objects a Store keeps decoded, and
// recentCount how many objects at most: those of the images a node's
// programs run, which every pass fetches again (the counter example is
// 5 KB; a flow meter 40 KB).
const (
	recentBytes = 4 << 20
	recentCount = 16
)

// recentObjects are the objects a Store decoded last, by manifest digest:
// a pass fetching an image the node holds reads, verifies and extracts it
// from the layout in about a millisecond, on the path of every change.
// What it holds was verified when it was read, and a digest's content
// never changes; Collect drops what it removes from the layout.
type recentObjects struct {
	mu    sync.Mutex
	size  int64
	order []digest.Digest // least recently used first
	byDig map[digest.Digest]*Object
}

// get returns a copy of the object of dgst, if held, marked as from the
// cache. Its ELF and maps are shared: callers only read them.
func (r *recentObjects) get(dgst digest.Digest) (*Object, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.byDig[dgst]
	if !ok {
		return nil, false
	}
	r.use(dgst)
	c := *o
	c.FromCache = true
	return &c, true
}

// put holds obj, the object of dgst, dropping the least recently used
// beyond the bounds; an object larger than them is not held. The caller
// holds the Store's lock for reading, so that Collect (keep) cannot run
// between its read of the layout and put.
func (r *recentObjects) put(dgst digest.Digest, obj *Object) {
	n := int64(len(obj.ELF))
	if n > recentBytes {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byDig == nil {
		r.byDig = map[digest.Digest]*Object{}
	}
	if _, ok := r.byDig[dgst]; ok {
		r.use(dgst)
		return
	}
	c := *obj
	c.Digest = dgst.String()
	r.byDig[dgst], r.order, r.size = &c, append(r.order, dgst), r.size+n
	for r.size > recentBytes || len(r.order) > recentCount {
		r.drop(r.order[0])
	}
}

// keep drops the objects whose digest live lacks.
func (r *recentObjects) keep(live map[digest.Digest]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range slices.Clone(r.order) {
		if !live[d] {
			r.drop(d)
		}
	}
}

// use moves dgst to the most recently used end.
func (r *recentObjects) use(dgst digest.Digest) {
	i := slices.Index(r.order, dgst)
	r.order = append(slices.Delete(r.order, i, i+1), dgst)
}

// drop forgets the object of dgst.
func (r *recentObjects) drop(dgst digest.Digest) {
	r.size -= int64(len(r.byDig[dgst].ELF))
	delete(r.byDig, dgst)
	r.order = slices.DeleteFunc(r.order, func(d digest.Digest) bool { return d == dgst })
}
