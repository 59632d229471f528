package taskpool

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs tasks on a fixed set of worker goroutines. Its methods are safe
// for concurrent use. The zero value is not usable: create pools with New,
// and end them with Close.
type Pool struct {
	opts  Options
	size  int // QueueSize
	log   *slog.Logger
	epoch time.Time // origin of the wait-time stamps (monotonic)

	ord *ordered // Ordered mode
	qs  *queues  // Shared, KeyHash, RoundRobin

	workers []counters
	caller  counters // tasks run by submitters (RunInCaller, or after Close)

	rejected atomic.Uint64
	closing  atomic.Bool

	closeOnce sync.Once
	done      chan struct{} // closed by Close
	exited    chan struct{} // closed once every worker has returned
	wg        sync.WaitGroup
}

// entry is one queued task. t is the time it was queued, as nanoseconds
// since the pool's epoch, for the sampled tasks that measure queueing delay;
// 0 for the others.
type entry struct {
	f func()
	t int64
}

// counters are one worker's statistics, on a cache line of their own.
type counters struct {
	running   atomic.Int32
	completed atomic.Uint64
	panics    atomic.Uint64
	samples   atomic.Uint64
	waited    atomic.Int64 // ns, over the samples
	maxWait   atomic.Int64 // ns
	_         [16]byte
}

// sampleMask picks one task in 16 to time its stay in the queue: timing every
// task would cost two clock reads per task.
const sampleMask = 15

// New starts a pool. A nil opts means defaults (an Ordered pool of
// GOMAXPROCS workers).
func New(opts *Options) (*Pool, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{
		opts:    o,
		size:    o.QueueSize,
		log:     o.Logger,
		epoch:   time.Now(),
		workers: make([]counters, o.Workers),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	if o.Mode == Ordered {
		p.ord = newOrdered(p)
	} else {
		p.qs = newQueues(p)
	}
	return p, nil
}

// Submit queues task to run on a worker. key groups tasks: in Ordered and
// KeyHash mode the tasks of one key run in submission order and never at
// the same time (submissions from different goroutines are ordered as they
// reach the pool); Shared and RoundRobin ignore it. When the task's queue is
// full, Submit follows Options.WhenFull. After Close it returns ErrClosed.
//
// A task that panics is recovered, counted in Stats.Panics and logged; the
// worker goes on with the next task. A task must not be nil and must not
// call runtime.Goexit. A task that submits with Block to its own full queue
// deadlocks: inside tasks, use TrySubmit.
func (p *Pool) Submit(key uint64, task func()) error {
	if p.ord != nil {
		return p.ord.submit(key, task, p.opts.WhenFull)
	}
	return p.qs.submit(key, task, p.opts.WhenFull)
}

// TrySubmit is Submit that never blocks and never runs task in the caller:
// when the queue is full it returns ErrPoolFull.
func (p *Pool) TrySubmit(key uint64, task func()) error {
	if p.ord != nil {
		return p.ord.submit(key, task, Fail)
	}
	return p.qs.submit(key, task, Fail)
}

// Close stops taking tasks (Submit returns ErrClosed, and submitters blocked
// on a full queue return it too), lets the workers finish every task already
// queued, and waits for them to exit. If ctx ends first, Close returns
// ctx.Err() and the workers go on with the queued tasks in the background
// (no accepted task is ever dropped); call Close again to wait for them.
// Close is safe to call more than once.
func (p *Pool) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		if p.ord != nil {
			p.ord.close()
		} else {
			p.qs.close()
		}
		go func() {
			p.wg.Wait()
			close(p.exited)
		}()
	})
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Mode reports the pool's shape.
func (p *Pool) Mode() Mode { return p.opts.Mode }

// Stats is a snapshot of a pool's counters.
type Stats struct {
	Workers   int
	Queued    int    // tasks waiting in queues
	Running   int    // workers busy running tasks
	Completed uint64 // tasks that returned, on workers or in callers
	Rejected  uint64 // Submit and TrySubmit calls that failed
	Panics    uint64 // tasks that panicked (recovered)
	// CallerRuns counts tasks run by the submitting goroutine (RunInCaller,
	// and the rare task that reaches a queue as Close runs).
	CallerRuns uint64
	// Time spent waiting in a queue, measured on a sample of the tasks (one
	// in 16): how many were timed, their total and their longest wait.
	WaitSamples uint64
	TotalWait   time.Duration
	MaxWait     time.Duration
}

// MeanWait is the mean time the sampled tasks spent queued.
func (s Stats) MeanWait() time.Duration {
	if s.WaitSamples == 0 {
		return 0
	}
	return s.TotalWait / time.Duration(s.WaitSamples)
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() Stats {
	st := Stats{Workers: len(p.workers), Rejected: p.rejected.Load()}
	add := func(c *counters) {
		st.Running += int(c.running.Load())
		st.Completed += c.completed.Load()
		st.Panics += c.panics.Load()
		st.WaitSamples += c.samples.Load()
		st.TotalWait += time.Duration(c.waited.Load())
		st.MaxWait = max(st.MaxWait, time.Duration(c.maxWait.Load()))
	}
	for i := range p.workers {
		add(&p.workers[i])
	}
	add(&p.caller)
	st.Running -= int(p.caller.running.Load())
	st.CallerRuns = p.caller.completed.Load() + p.caller.panics.Load()
	if p.ord != nil {
		st.Queued = p.ord.queued()
	} else {
		st.Queued = p.qs.queued()
	}
	return st
}

func (p *Pool) reject(err error) error {
	p.rejected.Add(1)
	return err
}

// stamp returns the queueing time of a sampled task, 0 for the others.
func (p *Pool) stamp() int64 {
	if rand.Uint32()&sampleMask != 0 {
		return 0
	}
	return p.now()
}

// now is the time since the pool's epoch, never 0.
func (p *Pool) now() int64 { return int64(time.Since(p.epoch)) | 1 }

func (p *Pool) recordWait(c *counters, t int64) {
	d := int64(time.Since(p.epoch)) - t
	c.samples.Add(1)
	c.waited.Add(d)
	for {
		m := c.maxWait.Load()
		if d <= m || c.maxWait.CompareAndSwap(m, d) {
			return
		}
	}
}

// panicked records a recovered panic.
func (p *Pool) panicked(c *counters, key uint64, r any) {
	c.panics.Add(1)
	p.log.Error("taskpool: task panicked", "key", key, "panic", r, "stack", string(debug.Stack()))
}

// runBatch runs every task of b, recovering panics, and counts them in c.
func (p *Pool) runBatch(c *counters, key uint64, b []entry) {
	for i := 0; i < len(b); {
		i = p.runFrom(c, key, b, i)
	}
}

// runFrom runs b[i:] until the end or a panic, and returns where to go on.
func (p *Pool) runFrom(c *counters, key uint64, b []entry, i int) (next int) {
	next = i
	defer func() {
		r := recover()
		c.completed.Add(uint64(next - i))
		if r != nil {
			p.panicked(c, key, r)
			next++
		}
	}()
	for ; next < len(b); next++ {
		if t := b[next].t; t != 0 {
			p.recordWait(c, t)
		}
		b[next].f()
	}
	return next
}

// runOne runs one task in the caller, recovering a panic.
func (p *Pool) runOne(key uint64, f func()) {
	c := &p.caller
	defer func() {
		if r := recover(); r != nil {
			p.panicked(c, key, r)
			return
		}
		c.completed.Add(1)
	}()
	f()
}

// hashKey folds a key's high bits into its low ones. Keys are usually
// sequential ids (or ids XORed with a constant), which this leaves distinct
// modulo any small power of two, so that consecutive sessions never share a
// shard or a worker; the folding spreads keys that differ only in high bits
// (aligned values). Take it modulo the number of shards or workers.
func hashKey(key uint64) uint64 {
	return key ^ key>>7 ^ key>>17 ^ key>>31 ^ key>>47
}
