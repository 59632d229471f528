package testutil

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// HeapSampler measures the peak of the process's heap while something
// runs: a goroutine reads the bytes in heap objects (live, or dead but not
// yet swept) every 50 µs. The figure is process-wide, so tests that use it
// do not run in parallel.
type HeapSampler struct {
	base   uint64
	stop   chan struct{}
	peak   chan uint64
	once   sync.Once
	growth uint64
}

const heapObjects = "/memory/classes/heap/objects:bytes"

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// SampleHeap collects garbage, takes the baseline and starts sampling,
// until done (or the end of the test). Two collections also empty the
// sync.Pools (and their victim caches), so every measurement starts with
// cold buffer pools.
func SampleHeap(t testing.TB) *HeapSampler {
	runtime.GC()
	runtime.GC()
	h := &HeapSampler{base: heapNow(), stop: make(chan struct{}), peak: make(chan uint64, 1)}
	go func() {
		peak := h.base
		tick := time.NewTicker(50 * time.Microsecond)
		defer tick.Stop()
		for {
			peak = max(peak, heapNow())
			select {
			case <-h.stop:
				h.peak <- max(peak, heapNow())
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { h.Done() })
	return h
}

// Done stops sampling and returns the peak growth over the baseline.
func (h *HeapSampler) Done() uint64 {
	h.once.Do(func() {
		close(h.stop)
		h.growth = <-h.peak - h.base
	})
	return h.growth
}
