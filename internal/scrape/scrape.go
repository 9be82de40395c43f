// Package scrape serves Prometheus collectors that come and go with the
// managers of this process (an operator and its agents share one process
// in tests and in the local stack) from controller-runtime's metrics
// registry, which each manager serves.
//
// One unchecked collector is registered in that registry, once; Serve adds
// collectors to it for as long as its context lives. A collector served
// twice at once by two managers would emit its series twice and fail the
// scrape: wrap each manager's collectors with labels that tell them apart.
package scrape

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// running is the collector, registered once in controller-runtime's
// Registry, that serves the collectors of every manager running in this
// process. An unchecked collector cannot be unregistered, so collectors
// join and leave it instead.
var running = &collectors{set: map[prometheus.Collector]bool{}}

var registerRunning sync.Once

// Serve serves cs from controller-runtime's Registry until ctx ends.
func Serve(ctx context.Context, cs ...prometheus.Collector) error {
	var err error
	registerRunning.Do(func() { err = ctrlmetrics.Registry.Register(running) })
	if err != nil {
		return err
	}
	for _, c := range cs {
		running.add(c)
		defer running.remove(c)
	}
	<-ctx.Done()
	return nil
}

type collectors struct {
	mu  sync.Mutex
	set map[prometheus.Collector]bool
}

func (c *collectors) add(x prometheus.Collector) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set[x] = true
}

func (c *collectors) remove(x prometheus.Collector) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.set, x)
}

// Describe sends nothing: the collector is unchecked.
func (c *collectors) Describe(chan<- *prometheus.Desc) {}

func (c *collectors) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	list := make([]prometheus.Collector, 0, len(c.set))
	for x := range c.set {
		list = append(list, x)
	}
	c.mu.Unlock()
	for _, x := range list {
		x.Collect(ch)
	}
}
