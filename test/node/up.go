package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/bpfleet/bpfleet/bpf"
	"github.com/bpfleet/bpfleet/internal/images"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// pauseImage is the sandbox image: test/node/pause.
var pauseImage = images.Image{Name: "pause", Package: "./test/node/pause", User: "65535:65535", Description: "the one-node cluster's sandbox container"}

// Install is a one-node cluster with bpfleet installed from images built
// from this tree.
type Install struct {
	*Cluster
	Images Images
	// Examples maps each example bytecode image (bpf.Examples) to its
	// reference in the node's registry.
	Examples map[string]string
}

// Up starts the cluster, builds the operator and agent images (for this
// machine's platform) and pushes them and the example bytecode images to
// the node's registry, and installs bpfleet.
func Up(ctx context.Context, root string) (in *Install, err error) {
	c, err := Start(ctx, root)
	if err != nil {
		return nil, err
	}
	in = &Install{Cluster: c}
	defer func() {
		if err != nil {
			err = errors.Join(err, in.Down())
			in = nil
		}
	}()
	refs, err := c.PushImages(ctx, images.Operator, images.Agent)
	if err != nil {
		return in, err
	}
	in.Images = Images{Operator: refs[0], Agent: refs[1]}
	if in.Examples, err = c.pushExamples(ctx); err != nil {
		return in, err
	}
	return in, in.Install(ctx, in.Images)
}

// Down stops the cluster.
func (in *Install) Down() error {
	if in == nil {
		return nil
	}
	return in.Cluster.Stop()
}

// pushExamples pushes the example bytecode images to the node's registry,
// as bpfleet/<name>:v1.
func (c *Cluster) pushExamples(ctx context.Context) (map[string]string, error) {
	refs := map[string]string{}
	for _, ex := range bpf.Examples {
		img, err := oci.BytecodeFromELF(ex.File, "", ex.Object)
		if err != nil {
			return nil, fmt.Errorf("example %s: %w", ex.Name, err)
		}
		if _, err := oci.Push(ctx, c.PushRegistry+"/bpfleet/"+ex.Name+":v1", img, nil); err != nil {
			return nil, fmt.Errorf("example %s: %w", ex.Name, err)
		}
		refs[ex.Name] = c.Registry + "/bpfleet/" + ex.Name + ":v1"
	}
	return refs, nil
}
