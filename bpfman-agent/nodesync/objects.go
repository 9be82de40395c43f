package nodesync

import (
	"context"
	"encoding/json"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/image"
)

// passObjects are the objects one pass fetched, by source: the programs
// of a pass that share an image (or a path) read it, extract it and check
// its signatures once, and share its bytes (a thousand programs of one
// object read it a thousand times each pass before). A pass drops them at
// its end; the next one reads again, so a path's new content is seen.
type passObjects struct {
	images  *image.Fetcher
	fetched map[string]fetchedObject
}

// fetchedObject is what Fetcher.Bytecode returned for a source.
type fetchedObject struct {
	object []byte
	err    error
}

func newPassObjects(images *image.Fetcher) *passObjects {
	return &passObjects{images: images, fetched: map[string]fetchedObject{}}
}

// fetch returns np's object's bytes, as Fetcher.Bytecode does, once per
// source and pass (an error too: the pass retries it when it is
// retried). Its digest is in the spec's image reference, which the report
// does not repeat.
func (o *passObjects) fetch(ctx context.Context, np *bpfleetv1.NodeProgram) ([]byte, error) {
	src := image.Source{
		Ref: np.Image, Path: np.Path, PullPolicy: image.PullPolicy(np.PullPolicy), PullSecret: np.PullSecret, Verify: np.Verify,
	}
	key, err := json.Marshal(src) // all of it: a signature policy or secret changes what is fetched
	if err != nil {
		object, _, err := o.images.Bytecode(ctx, src)
		return object, err
	}
	f, ok := o.fetched[string(key)]
	if !ok {
		f.object, _, f.err = o.images.Bytecode(ctx, src)
		o.fetched[string(key)] = f
	}
	return f.object, f.err
}
