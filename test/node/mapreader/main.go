// Command mapreader is the userspace half of an eBPF application as a pod
// runs it, for the node tests: it opens the maps a csi.bpfleet.io volume
// mounts with cilium/ebpf's LoadPinnedMap. It says, for a map mounted
// read-only, how opening it for writing and writing through it fail; it
// consumes a ring buffer (its reader writes the consumer position: the
// map must be mounted ReadWrite) and prints how many records it read,
// with the ring buffer's kernel ID, every half second.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

func main() {
	ring := flag.String("ringbuf", "", "pin of a ring buffer to consume")
	readOnly := flag.String("read-only", "", "pin of a map mounted read-only, to try writing")
	flag.Parse()
	if *readOnly != "" {
		tryWrite(*readOnly)
	}
	if *ring == "" {
		select {}
	}
	if err := consume(*ring); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

// tryWrite prints how opening path for writing, and writing through a
// read-only descriptor, fail (or "<nil>" if they do not).
func tryWrite(path string) {
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err == nil {
		m.Close()
	}
	fmt.Printf("open %s for writing: %v\n", path, err)
	m, err = ebpf.LoadPinnedMap(path, &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		fmt.Printf("open %s read-only: %v\n", path, err)
		return
	}
	defer m.Close()
	err = m.Put(make([]byte, m.KeySize()), make([]byte, m.ValueSize()))
	fmt.Printf("write %s: %v\n", path, err)
}

// consume reads the ring buffer at path, printing its ID once and the
// records read so far every half second.
func consume(path string) error {
	m, err := ebpf.LoadPinnedMap(path, nil)
	if err != nil {
		return err
	}
	info, err := m.Info()
	if err != nil {
		return err
	}
	id, _ := info.ID()
	fmt.Printf("ringbuf %s id %d\n", path, id)
	r, err := ringbuf.NewReader(m)
	if err != nil {
		return err
	}
	var records atomic.Int64
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			fmt.Printf("records %d\n", records.Load())
		}
	}()
	for {
		if _, err := r.Read(); errors.Is(err, ringbuf.ErrClosed) {
			return err
		} else if err != nil {
			fmt.Println("read:", err)
			continue
		}
		records.Add(1)
	}
}
