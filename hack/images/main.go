// Command images builds the operator's and the agent's container images
// (internal/images: no Docker) and pushes them to
// <registry>/bpfleet-operator:<tag> and <registry>/bpfman-agent:<tag>,
// printing each reference with its digest. Run from the repository's root
// by `make images`; the binaries are cached in .cache/build/.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/bpfleet/bpfleet/internal/images"
)

func main() {
	registry := flag.String("registry", "", "registry and repository prefix to push to, e.g. 127.0.0.1:5000/bpfleet or ghcr.io/you (required)")
	tag := flag.String("tag", "dev", "the images' tag, also their version label")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "comma-separated platforms to build")
	flag.Parse()
	if *registry == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: images -registry host[:port]/prefix [-tag dev] [-platforms linux/amd64,linux/arm64]")
		os.Exit(2)
	}
	if err := run(*registry, *tag, *platforms); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(registry, tag, platforms string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ps, err := images.ParsePlatforms(platforms)
	if err != nil {
		return err
	}
	opts := images.Options{CacheDir: ".cache/build", Platforms: ps, Version: tag}
	for _, img := range []images.Image{images.Operator, images.Agent} {
		idx, err := images.Build(ctx, opts, img)
		if err != nil {
			return err
		}
		ref := registry + "/" + img.Name + ":" + tag
		digest, err := images.Push(ctx, idx, ref)
		if err != nil {
			return err
		}
		fmt.Printf("%s@%s\n", ref, digest)
	}
	return nil
}
