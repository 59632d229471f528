package taskpool

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// Ordered mode. Every key with tasks has a mailbox; mailboxes live in
// shards (a mutex, a map and a run queue each). Submit appends to the key's
// mailbox and, when the mailbox was idle, puts it on its shard's run queue.
// A worker takes a mailbox from any shard's run queue, swaps out its whole
// pending batch and runs it, so one key is run by one worker at a time, in
// order, and a slow key occupies one worker while the others take the
// remaining keys. A bitmask says which shards have ready mailboxes, so an
// idle worker finds (steals) work anywhere with one atomic load.
//
// Waking follows the Go scheduler: at most maxSpin workers spin looking for
// work; a submitter that makes a mailbox ready wakes a parked worker only
// when nobody spins, and a spinner that finds work wakes the next one.

const (
	stIdle    uint8 = iota // no pending task; on the shard's idle list
	stQueued               // pending tasks; on the shard's run queue
	stRunning              // a worker (or a RunInCaller submitter) owns it
)

const (
	maxShards   = 64 // one bit each in ordered.ready; a power of two
	maxIdle     = 16 // idle mailboxes kept per shard for reuse
	initBoxCap  = 8  // first capacity of a mailbox buffer
	keepBoxCap  = 64 // larger buffers are dropped when a mailbox is recycled
	spinRounds  = 32 // looks for work (with a yield between) before parking
	spinPerProc = 2  // at most GOMAXPROCS/spinPerProc spinning workers
)

type mailbox struct {
	key     uint64
	in      []entry // pending tasks, appended by Submit; len <= QueueSize
	out     []entry // the batch being run, owned by the runner
	state   uint8
	waiters int       // submitters waiting on cond
	cond    sync.Cond // L is the shard's mu: room in in, or state change
	prev    *mailbox  // run queue or idle list links
	next    *mailbox  // (also the free list)
}

type boxList struct {
	head, tail *mailbox
	n          int
}

func (l *boxList) pushBack(b *mailbox) {
	b.prev, b.next = l.tail, nil
	if l.tail == nil {
		l.head = b
	} else {
		l.tail.next = b
	}
	l.tail = b
	l.n++
}

func (l *boxList) remove(b *mailbox) {
	if b.prev == nil {
		l.head = b.next
	} else {
		b.prev.next = b.next
	}
	if b.next == nil {
		l.tail = b.prev
	} else {
		b.next.prev = b.prev
	}
	b.prev, b.next = nil, nil
	l.n--
}

// shard: mu guards every field and the mailboxes it holds (except a running
// mailbox's out, which belongs to its runner).
type shard struct {
	mu     sync.Mutex
	idx    int
	boxes  map[uint64]*mailbox
	runq   boxList
	idle   boxList
	free   *mailbox // recycled mailboxes, linked by next
	nfree  int
	queued int      // tasks in the mailboxes' in buffers
	last   *mailbox // the mailbox of the last Submit (saves a map lookup)
	seq    uint32   // submissions, to pick the tasks whose wait is timed
	closed bool
	_      [64]byte
}

type oworker struct {
	c        *counters
	home     int // first shard this worker looks at
	spinning bool
	wake     chan struct{}
}

type ordered struct {
	p       *Pool
	shards  []shard
	maxSpin int32

	_     [64]byte
	ready atomic.Uint64 // bit i: shards[i] has a non-empty run queue
	_     [56]byte
	nspin atomic.Int32 // spinning workers
	nidle atomic.Int32 // parked workers
	_     [56]byte

	idleMu sync.Mutex // guards idle
	idle   []*oworker
}

func newOrdered(p *Pool) *ordered {
	n := p.opts.Workers
	nsh := maxShards
	o := &ordered{
		p:       p,
		shards:  make([]shard, nsh),
		maxSpin: int32(max(1, runtime.GOMAXPROCS(0)/spinPerProc)),
		idle:    make([]*oworker, 0, n),
	}
	for i := range o.shards {
		o.shards[i].idx = i
		o.shards[i].boxes = make(map[uint64]*mailbox)
	}
	p.wg.Add(n)
	for i := range n {
		w := &oworker{c: &p.workers[i], home: i * nsh / n, wake: make(chan struct{}, 1)}
		go o.work(w)
	}
	return o
}

func (o *ordered) submit(key uint64, f func(), policy FullPolicy) error {
	p := o.p
	sh := &o.shards[hashKey(key)&(maxShards-1)]
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return p.reject(ErrClosed)
	}
	mb := sh.last
	if mb == nil || mb.key != key {
		if mb = sh.boxes[key]; mb == nil {
			mb = sh.newBox(key)
		}
		sh.last = mb
	}
	for len(mb.in) >= p.size {
		switch policy {
		case Fail:
			sh.mu.Unlock()
			return p.reject(ErrPoolFull)
		case RunInCaller:
			if mb.state == stQueued {
				o.runInCaller(sh, mb, f) // unlocks
				return nil
			}
		}
		// Block, or RunInCaller while a worker runs the key: wait for the
		// worker to take the batch (room) or to let the mailbox go.
		mb.waiters++
		mb.cond.Wait()
		mb.waiters--
		if sh.closed {
			sh.mu.Unlock()
			return p.reject(ErrClosed)
		}
	}
	var t int64
	if sh.seq++; sh.seq&sampleMask == 0 {
		t = p.now()
	}
	if cap(mb.in) == 0 {
		mb.in = make([]entry, 0, min(initBoxCap, p.size))
	}
	mb.in = append(mb.in, entry{f: f, t: t})
	sh.queued++
	if mb.state != stIdle {
		sh.mu.Unlock()
		return nil
	}
	sh.idle.remove(mb)
	o.enqueueLocked(sh, mb)
	sh.mu.Unlock()
	o.wake()
	return nil
}

// newBox makes an idle mailbox for key, reusing a recycled one if it can.
func (sh *shard) newBox(key uint64) *mailbox {
	mb := sh.free
	if mb != nil {
		sh.free, mb.next = mb.next, nil
		sh.nfree--
	} else {
		mb = &mailbox{}
		mb.cond.L = &sh.mu
	}
	mb.key, mb.state = key, stIdle
	sh.boxes[key] = mb
	sh.idle.pushBack(mb)
	return mb
}

// idleLocked parks an empty mailbox on the idle list, and recycles the
// oldest idle mailboxes beyond maxIdle.
func (sh *shard) idleLocked(mb *mailbox) {
	mb.state = stIdle
	sh.idle.pushBack(mb)
	for b := sh.idle.head; sh.idle.n > maxIdle && b != nil; {
		next := b.next
		if b.waiters == 0 {
			sh.idle.remove(b)
			delete(sh.boxes, b.key)
			if sh.last == b {
				sh.last = nil
			}
			if sh.nfree < maxIdle {
				if cap(b.in) > keepBoxCap {
					b.in = nil
				}
				if cap(b.out) > keepBoxCap {
					b.out = nil
				}
				b.next, sh.free = sh.free, b
				sh.nfree++
			}
		}
		b = next
	}
}

// enqueueLocked puts a mailbox with pending tasks on its shard's run queue.
func (o *ordered) enqueueLocked(sh *shard, mb *mailbox) {
	mb.state = stQueued
	sh.runq.pushBack(mb)
	if sh.runq.n == 1 {
		o.ready.Or(1 << sh.idx)
	}
}

// dequeueLocked takes mb off its shard's run queue.
func (o *ordered) dequeueLocked(sh *shard, mb *mailbox) {
	sh.runq.remove(mb)
	if sh.runq.n == 0 {
		o.ready.And(^(uint64(1) << sh.idx))
	}
}

// swapLocked makes mb's pending tasks its batch (mb.out) and empties mb.in.
func (sh *shard) swapLocked(mb *mailbox) {
	mb.in, mb.out = mb.out[:0], mb.in
	sh.queued -= len(mb.out)
	if mb.waiters > 0 {
		mb.cond.Broadcast()
	}
}

// take finds a ready mailbox, starting at the worker's home shard, and
// claims it with its batch.
func (o *ordered) take(w *oworker) (*shard, *mailbox) {
	for {
		r := o.ready.Load()
		if r == 0 {
			return nil, nil
		}
		i := (bits.TrailingZeros64(bits.RotateLeft64(r, -w.home)) + w.home) & (maxShards - 1)
		sh := &o.shards[i]
		sh.mu.Lock()
		mb := sh.runq.head
		if mb == nil {
			sh.mu.Unlock()
			continue // taken meanwhile; the bit is already clear
		}
		o.dequeueLocked(sh, mb)
		mb.state = stRunning
		sh.swapLocked(mb)
		sh.mu.Unlock()
		return sh, mb
	}
}

// runBox runs a claimed mailbox's batches. While no other key waits, the
// worker stays with this one; otherwise it puts the mailbox back at the end
// of the run queue.
func (o *ordered) runBox(c *counters, sh *shard, mb *mailbox) {
	for {
		o.p.runBatch(c, mb.key, mb.out)
		clear(mb.out)
		mb.out = mb.out[:0]
		sh.mu.Lock()
		if len(mb.in) == 0 {
			sh.idleLocked(mb)
			sh.mu.Unlock()
			return
		}
		if o.ready.Load() == 0 {
			sh.swapLocked(mb)
			sh.mu.Unlock()
			continue
		}
		o.enqueueLocked(sh, mb)
		if mb.waiters > 0 {
			mb.cond.Broadcast() // a RunInCaller submitter may take it now
		}
		sh.mu.Unlock()
		o.wake()
		return
	}
}

// runInCaller runs a full, queued mailbox in the submitting goroutine: its
// batch, then f. It is called with sh.mu held and releases it.
func (o *ordered) runInCaller(sh *shard, mb *mailbox, f func()) {
	p := o.p
	o.dequeueLocked(sh, mb)
	mb.state = stRunning
	sh.swapLocked(mb)
	sh.mu.Unlock()
	p.caller.running.Add(1)
	defer p.caller.running.Add(-1)
	p.runBatch(&p.caller, mb.key, mb.out)
	p.runOne(mb.key, f)
	clear(mb.out)
	mb.out = mb.out[:0]
	sh.mu.Lock()
	for len(mb.in) > 0 && sh.closed {
		// Close may have let the workers go: finish the key here.
		sh.swapLocked(mb)
		sh.mu.Unlock()
		p.runBatch(&p.caller, mb.key, mb.out)
		clear(mb.out)
		mb.out = mb.out[:0]
		sh.mu.Lock()
	}
	if len(mb.in) == 0 {
		sh.idleLocked(mb)
		sh.mu.Unlock()
		return
	}
	o.enqueueLocked(sh, mb)
	if mb.waiters > 0 {
		mb.cond.Broadcast()
	}
	sh.mu.Unlock()
	o.wake()
}

func (o *ordered) work(w *oworker) {
	defer o.p.wg.Done()
	for {
		if sh, mb := o.take(w); mb != nil {
			if w.spinning {
				w.spinning = false
				if o.nspin.Add(-1) == 0 && o.ready.Load() != 0 {
					o.wake() // more work than this: bring in another worker
				}
			}
			w.c.running.Store(1)
			o.runBox(w.c, sh, mb)
			continue
		}
		w.c.running.Store(0)
		if o.p.closing.Load() && o.ready.Load() == 0 {
			if w.spinning {
				o.nspin.Add(-1)
			}
			return
		}
		if !w.spinning && o.nspin.Load() < o.maxSpin {
			w.spinning = true
			o.nspin.Add(1)
		}
		if w.spinning {
			if o.spin() {
				continue
			}
			w.spinning = false
			o.nspin.Add(-1)
		}
		w.spinning = o.park(w)
	}
}

// spin looks for work for a while, yielding the processor in between. It
// reports whether there is work (or the pool is closing).
func (o *ordered) spin() bool {
	for range spinRounds {
		if o.ready.Load() != 0 || o.p.closing.Load() {
			return true
		}
		runtime.Gosched()
	}
	return o.ready.Load() != 0
}

// park puts w to sleep until a submitter or Close wakes it. It reports
// whether w was woken (the waker counted it as spinning) rather than finding
// work or a closing pool before it slept.
func (o *ordered) park(w *oworker) bool {
	o.idleMu.Lock()
	if o.p.closing.Load() {
		o.idleMu.Unlock()
		return false
	}
	o.idle = append(o.idle, w)
	o.nidle.Add(1)
	o.idleMu.Unlock()
	if o.ready.Load() != 0 {
		o.idleMu.Lock()
		for i, x := range o.idle {
			if x == w {
				o.idle = append(o.idle[:i], o.idle[i+1:]...)
				o.nidle.Add(-1)
				o.idleMu.Unlock()
				return false
			}
		}
		o.idleMu.Unlock() // already popped: a wake-up is on its way
	}
	<-w.wake
	return true
}

// wake wakes a parked worker if work is ready and nobody spins.
func (o *ordered) wake() {
	if o.nspin.Load() != 0 || o.nidle.Load() == 0 {
		return
	}
	o.idleMu.Lock()
	n := len(o.idle)
	if n == 0 || o.nspin.Load() != 0 {
		o.idleMu.Unlock()
		return
	}
	w := o.idle[n-1]
	o.idle[n-1] = nil
	o.idle = o.idle[:n-1]
	o.nidle.Add(-1)
	o.nspin.Add(1)
	o.idleMu.Unlock()
	w.wake <- struct{}{}
}

func (o *ordered) close() {
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.Lock()
		sh.closed = true
		for _, mb := range sh.boxes {
			if mb.waiters > 0 {
				mb.cond.Broadcast()
			}
		}
		sh.mu.Unlock()
	}
	o.p.closing.Store(true)
	close(o.p.done)
	o.idleMu.Lock()
	for _, w := range o.idle {
		o.nspin.Add(1)
		w.wake <- struct{}{}
	}
	clear(o.idle)
	o.idle = o.idle[:0]
	o.nidle.Store(0)
	o.idleMu.Unlock()
}

func (o *ordered) queued() int {
	n := 0
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.Lock()
		n += sh.queued
		sh.mu.Unlock()
	}
	return n
}
