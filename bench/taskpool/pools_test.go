// Package taskpool compares getty's taskpool shapes with
// github.com/panjf2000/ants/v2, github.com/alitto/pond/v2 and a plain
// goroutine per task. Run it with run.sh; README.md holds the figures.
package taskpool

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/gettynet/getty/taskpool"
	"github.com/panjf2000/ants/v2"
)

// Workers is the size of every pool (the baseline used 4).
const workers = 4

// queueSize bounds the queues of the pools that have them.
const queueSize = 1024

// A pool under test: start returns its submit function (key is the
// submitter's index, used by the keyed shapes) and a stop function.
type subject struct {
	name  string
	start func() (submit func(key uint64, f func()) error, stop func())
}

func gettyPool(mode taskpool.Mode, size int) func() (func(uint64, func()) error, func()) {
	return func() (func(uint64, func()) error, func()) {
		p, err := taskpool.New(&taskpool.Options{Mode: mode, Workers: workers, QueueSize: size})
		if err != nil {
			panic(err)
		}
		return p.Submit, func() { p.Close(context.Background()) }
	}
}

var subjects = []subject{
	{"getty-ordered", gettyPool(taskpool.Ordered, queueSize)},
	// Ordered bounds each key's mailbox: with many keys it holds many more
	// tasks than one queue of the same size. A small mailbox shows the
	// latency side of that trade.
	{"getty-ordered-q64", gettyPool(taskpool.Ordered, 64)},
	{"getty-keyhash-1:1", gettyPool(taskpool.KeyHash, queueSize)},
	{"getty-shared-1:N", gettyPool(taskpool.Shared, queueSize)},
	{"getty-roundrobin-M:N", gettyPool(taskpool.RoundRobin, queueSize)},
	{"ants", func() (func(uint64, func()) error, func()) {
		p, err := ants.NewPool(workers)
		if err != nil {
			panic(err)
		}
		return func(_ uint64, f func()) error { return p.Submit(f) }, func() { p.ReleaseTimeout(10 * time.Second) }
	}},
	{"pond", func() (func(uint64, func()) error, func()) {
		p := pond.NewPool(workers, pond.WithQueueSize(queueSize))
		return func(_ uint64, f func()) error { return p.Go(f) }, p.StopAndWait
	}},
	{"go", func() (func(uint64, func()) error, func()) {
		return func(_ uint64, f func()) error { go f(); return nil }, func() {}
	}},
}

// spinRounds makes the "~1 µs" task: rounds of spin measured at about
// 1.9 ns of CPU time each on the 2-core machine these figures come from
// (BenchmarkCeiling reports the task's actual CPU time). A fixed count keeps
// runs comparable.
const spinRounds = 520

var sink atomic.Uint64

// spin burns CPU for n rounds of an xorshift.
func spin(n int) {
	x := uint64(n) | 1
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	if x == 0 {
		sink.Store(x)
	}
}

// hist is a log-linear histogram of durations (8 sub-buckets per power of
// two, so about 12% resolution), safe for concurrent use.
type hist struct{ b [64 * 8]atomic.Uint64 }

func (h *hist) record(d int64) {
	if d < 1 {
		d = 1
	}
	e := bits.Len64(uint64(d)) - 1
	sub := 0
	if e >= 3 {
		sub = int(uint64(d)>>(e-3)) & 7
	}
	h.b[e*8+sub].Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *hist) quantile(q float64) time.Duration {
	var total uint64
	for i := range h.b {
		total += h.b[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	var seen uint64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen > want {
			e, sub := i/8, i%8
			if e < 3 {
				return time.Duration(2 << e)
			}
			return time.Duration((uint64(8+sub+1) << (e - 3)))
		}
	}
	return 0
}

// slot times one sampled task from Submit to start, without allocating.
type slot struct {
	busy  atomic.Bool
	start atomic.Int64
	h     *hist
	epoch time.Time
	work  func()
	run   func() // slot.exec, bound once
}

func (s *slot) exec() {
	s.h.record(int64(time.Since(s.epoch)) - s.start.Load())
	s.busy.Store(false)
	s.work()
}

const (
	sampleEvery = 64 // one task in 64 is timed
	slotsPer    = 64 // timing slots per submitter
)

// BenchmarkPools runs tiny and ~1 µs tasks through every pool with 2, 8 and
// 64 submitting goroutines. One op is one task. Custom metrics: Mtasks/s,
// p99-wait-us (Submit to start, sampled), cpu-ns/task (CPU time of the
// whole process per task), and for 1 µs tasks %ceiling (of the ceiling's
// rate measured just before, in the same process) and %cpu-in-task (the share of the
// CPU time spent in the tasks themselves: what is left when the machine
// is shared and wall-clock rates mean little).
func BenchmarkPools(b *testing.B) {
	for _, task := range []string{"tiny", "1us"} {
		for _, subs := range []int{2, 8, 64} {
			for _, sub := range subjects {
				b.Run(fmt.Sprintf("task=%s/subs=%d/pool=%s", task, subs, sub.name), func(b *testing.B) {
					runPool(b, sub, task, subs)
				})
			}
		}
	}
}

func runPool(b *testing.B, sub subject, task string, subs int) {
	var done atomic.Int64
	work := func() { done.Add(1) }
	var ceilRate float64
	var ceilCPU time.Duration
	if task == "1us" {
		work = func() { spin(spinRounds); done.Add(1) }
		ceilRate, ceilCPU = ceiling(100000) // just before: the machine's load drifts
	}
	per := max(1, b.N/subs)
	total := int64(per * subs)
	h := new(hist)
	epoch := time.Now()
	slots := make([][]slot, subs)
	for s := range slots {
		slots[s] = make([]slot, slotsPer)
		for i := range slots[s] {
			sl := &slots[s][i]
			sl.h, sl.epoch, sl.work = h, epoch, work
			sl.run = sl.exec
		}
	}
	submit, stop := sub.start()
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	for s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := uint64(s)
			mine := slots[s]
			next := 0
			for i := range per {
				f := work
				if i%sampleEvery == 0 {
					if sl := &mine[next]; !sl.busy.Load() {
						sl.busy.Store(true)
						sl.start.Store(int64(time.Since(epoch)))
						f = sl.run
						next = (next + 1) % slotsPer
					}
				}
				if err := submit(key, f); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for done.Load() < total {
		runtime.Gosched()
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	elapsed := b.Elapsed()
	stop()
	rate := float64(total) / elapsed.Seconds()
	b.ReportMetric(rate/1e6, "Mtasks/s")
	b.ReportMetric(float64(cpu)/float64(total), "cpu-ns/task")
	b.ReportMetric(float64(h.quantile(0.99))/1e3, "p99-wait-us")
	if task == "1us" {
		b.ReportMetric(100*rate/ceilRate, "%ceiling")
		b.ReportMetric(100*float64(ceilCPU)/(float64(cpu)/float64(total)), "%cpu-in-task")
	}
}

// cpuTime is the CPU time (user and system) the process has used: unlike
// wall time it barely moves when other programs share the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ceiling runs n ~1 µs tasks on GOMAXPROCS goroutines back to back, with no
// pool, and returns their rate (the most a pool could reach) and the CPU
// time of one task.
func ceiling(n int) (rate float64, cpu time.Duration) {
	procs := runtime.GOMAXPROCS(0)
	cpu0 := cpuTime()
	t0 := time.Now()
	var wg sync.WaitGroup
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / procs {
				spin(spinRounds)
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(t0).Seconds(), (cpuTime() - cpu0) / time.Duration(n)
}

// BenchmarkCeiling reports the ~1 µs task's ceiling on this machine, and the
// task's length.
func BenchmarkCeiling(b *testing.B) {
	rate, cpu := ceiling(b.N)
	b.ReportMetric(rate/1e6, "Mtasks/s-ceiling")
	b.ReportMetric(float64(cpu), "cpu-ns/task")
}
