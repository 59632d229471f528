package taskpool

import "sync/atomic"

// The channel shapes (Shared 1:N, KeyHash 1:1, RoundRobin M:N): a set of
// bounded channels, each drained by a fixed group of workers.

// qentry is a queued task with its key (for the panic log).
type qentry struct {
	entry
	key uint64
}

type queues struct {
	p  *Pool
	qs []chan qentry
	_  [64]byte
	rr atomic.Uint64 // RoundRobin dispatch
	_  [56]byte
}

func newQueues(p *Pool) *queues {
	o := &p.opts
	n := 1
	switch o.Mode {
	case KeyHash:
		n = o.Workers
	case RoundRobin:
		n = o.Queues
	}
	q := &queues{p: p, qs: make([]chan qentry, n)}
	for i := range q.qs {
		q.qs[i] = make(chan qentry, o.QueueSize)
	}
	p.wg.Add(o.Workers)
	for i := range o.Workers {
		go q.work(&p.workers[i], q.qs[i%n])
	}
	return q
}

func (q *queues) submit(key uint64, f func(), policy FullPolicy) error {
	p := q.p
	if p.closing.Load() {
		return p.reject(ErrClosed)
	}
	var ch chan qentry
	switch p.opts.Mode {
	case Shared:
		ch = q.qs[0]
	case KeyHash:
		ch = q.qs[hashKey(key)%uint64(len(q.qs))]
	default:
		ch = q.qs[q.rr.Add(1)%uint64(len(q.qs))]
	}
	e := qentry{entry{f, p.stamp()}, key}
	select {
	case ch <- e:
	default:
		switch policy {
		case Fail:
			return p.reject(ErrPoolFull)
		case RunInCaller:
			p.runOne(key, f)
			return nil
		}
		select {
		case ch <- e:
		case <-p.done:
			return p.reject(ErrClosed)
		}
	}
	if p.closing.Load() {
		// Close raced with this send: the task may sit behind the stop
		// entries, so run what follows them here.
		q.rescue(ch)
	}
	return nil
}

func (q *queues) rescue(ch chan qentry) {
	for {
		select {
		case e := <-ch:
			if e.f == nil {
				ch <- e // a stop entry, for a worker still draining
				return
			}
			q.p.runOne(e.key, e.f)
		default:
			return
		}
	}
}

func (q *queues) work(c *counters, ch chan qentry) {
	defer q.p.wg.Done()
	c.running.Store(1)
	for !q.drain(c, ch) {
	}
}

// drain runs tasks from ch until it receives the stop entry that Close
// queues for each worker (it returns true) or a task panics (false).
func (q *queues) drain(c *counters, ch chan qentry) (stop bool) {
	p := q.p
	var key uint64
	defer func() {
		if r := recover(); r != nil {
			p.panicked(c, key, r)
		}
	}()
	for {
		var e qentry
		select {
		case e = <-ch:
		default:
			c.running.Store(0)
			e = <-ch
			c.running.Store(1)
		}
		if e.f == nil {
			c.running.Store(0)
			return true
		}
		key = e.key
		if e.t != 0 {
			p.recordWait(c, e.t)
		}
		e.f()
		c.completed.Add(1)
	}
}

// close marks the pool closed and queues one stop entry per worker behind
// the tasks already queued (in the background: the queues may be full).
// A submitter whose task lands behind the stop entries runs it itself.
func (q *queues) close() {
	p := q.p
	p.closing.Store(true)
	close(p.done)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for i := range p.opts.Workers {
			q.qs[i%len(q.qs)] <- qentry{}
		}
	}()
}

func (q *queues) queued() int {
	n := 0
	for _, ch := range q.qs {
		n += len(ch)
	}
	return n
}
