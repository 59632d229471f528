package loadgen

import (
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 ns to 100 s, three significant digits.
const (
	histMin     = 1
	histMax     = int64(100e9)
	histSigFigs = 3
	histShards  = 8
)

// shardedHist spreads recording over a few locked histograms so that
// connections rarely wait for each other. Workers record in batches.
type shardedHist struct {
	shards [histShards]struct {
		mu sync.Mutex
		h  *hdrhistogram.Histogram
		_  [40]byte // keep shard locks on separate cache lines
	}
}

func (s *shardedHist) init() {
	for i := range s.shards {
		s.shards[i].h = hdrhistogram.New(histMin, histMax, histSigFigs)
	}
}

// record adds the latencies vals (nanoseconds) to shard i.
func (s *shardedHist) record(i int, vals []int64) {
	sh := &s.shards[i%histShards]
	sh.mu.Lock()
	for _, v := range vals {
		if v < histMin {
			v = histMin
		} else if v > histMax {
			v = histMax
		}
		sh.h.RecordValue(v) //nolint:errcheck // clamped into range above
	}
	sh.mu.Unlock()
}

func (s *shardedHist) merged() *hdrhistogram.Histogram {
	h := hdrhistogram.New(histMin, histMax, histSigFigs)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		h.Merge(sh.h)
		sh.mu.Unlock()
	}
	return h
}

func (s *shardedHist) percentile(p float64) int64 {
	return s.merged().ValueAtQuantile(p)
}
