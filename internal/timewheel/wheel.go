// Package timewheel is a hashed timing wheel shared by every session of one
// server or client, so that idle timeouts, write watchdogs and cron ticks cost
// no timer and no goroutine per session.
//
// A Wheel owns one goroutine, started by the first Schedule and stopped by
// Stop. Timer
// callbacks run on that goroutine, outside the wheel's lock: they must be
// short and must never block (spawn a goroutine for real work). A callback
// may schedule or cancel any timer, including its own.
//
// The wheel also keeps a coarse clock (Now), refreshed once per tick, that
// sessions read instead of calling time.Now on every read and write.
package timewheel

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTick is the tick used when New is given zero.
const DefaultTick = 10 * time.Millisecond

const slotCount = 1024 // a power of two

// Timer is one schedulable callback. Create it with Wheel.NewTimer.
// Its fields are guarded by the wheel's lock.
type Timer struct {
	w          *Wheel
	f          func()
	prev, next *Timer
	slot       int    // -1 when not scheduled
	rounds     uint64 // full revolutions still to wait
	seq        uint64 // bumped on every (re)schedule and cancel
}

// Wheel is a hashed timing wheel. It is safe for concurrent use.
type Wheel struct {
	tick  time.Duration
	start time.Time

	mu      sync.Mutex // guards slots, cur, count, stopped
	slots   [slotCount]Timer
	cur     uint64 // tick number of the slot processed last
	count   int    // scheduled timers
	started bool   // the goroutine runs
	stopped bool

	now      atomic.Int64  // coarse clock, UnixNano
	sleeping atomic.Bool   // no timer pending: the clock is not being refreshed
	wake     chan struct{} // poked when a timer is added to an empty wheel
	stop     chan struct{}
	done     chan struct{}
}

// New returns a wheel that advances every tick (DefaultTick when tick <= 0).
// Its goroutine starts with the first Schedule; Stop ends it.
func New(tick time.Duration) *Wheel {
	if tick <= 0 {
		tick = DefaultTick
	}
	w := &Wheel{
		tick:  tick,
		start: time.Now(),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for i := range w.slots {
		head := &w.slots[i]
		head.prev, head.next = head, head
	}
	w.now.Store(w.start.UnixNano())
	w.sleeping.Store(true)
	return w
}

// Tick reports the wheel's resolution.
func (w *Wheel) Tick() time.Duration { return w.tick }

// Now returns the coarse clock: the time of the latest tick (at most one tick
// old while timers are pending; refreshed on demand otherwise).
func (w *Wheel) Now() int64 {
	if w.sleeping.Load() {
		return time.Now().UnixNano()
	}
	return w.now.Load()
}

// Ticking returns the coarse clock and true while the wheel ticks (timers
// are pending); false when nothing refreshes it.
func (w *Wheel) Ticking() (int64, bool) {
	if w.sleeping.Load() {
		return 0, false
	}
	return w.now.Load(), true
}

// NewTimer returns an unscheduled timer that calls f when it fires.
func (w *Wheel) NewTimer(f func()) *Timer {
	return &Timer{w: w, f: f, slot: -1}
}

// Schedule (re)arms t to fire after d (rounded up to a whole tick, at least
// one). It reports false when the wheel has been stopped.
func (t *Timer) Schedule(d time.Duration) bool {
	w := t.w
	ticks := uint64((d + w.tick - 1) / w.tick)
	if ticks == 0 {
		ticks = 1
	}
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return false
	}
	if !w.started {
		w.started = true
		w.now.Store(time.Now().UnixNano())
		w.sleeping.Store(false)
		go w.run()
	}
	if t.slot >= 0 {
		w.unlinkLocked(t)
	}
	if w.count == 0 {
		// The wheel may have slept: count from the present, not from the
		// last processed tick.
		if target := uint64(time.Since(w.start) / w.tick); target > w.cur {
			w.cur = target
		}
	}
	at := w.cur + ticks
	t.rounds = (ticks - 1) / slotCount
	t.slot = int(at % slotCount)
	t.seq++
	head := &w.slots[t.slot]
	t.prev, t.next = head.prev, head
	head.prev.next = t
	head.prev = t
	w.count++
	wasEmpty := w.count == 1
	w.mu.Unlock()
	if wasEmpty {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// Cancel disarms t. A callback already running on the wheel goroutine is not
// interrupted; use a flag of your own if that matters.
func (t *Timer) Cancel() {
	w := t.w
	w.mu.Lock()
	if t.slot >= 0 {
		w.unlinkLocked(t)
	}
	t.seq++
	w.mu.Unlock()
}

func (w *Wheel) unlinkLocked(t *Timer) {
	t.prev.next = t.next
	t.next.prev = t.prev
	t.prev, t.next = nil, nil
	t.slot = -1
	w.count--
}

// Stop halts the wheel goroutine and waits for it. Pending timers never fire.
// Stop is idempotent.
func (w *Wheel) Stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		<-w.done
		return
	}
	w.stopped = true
	started := w.started
	w.mu.Unlock()
	close(w.stop)
	if started {
		<-w.done
	} else {
		close(w.done)
	}
}

func (w *Wheel) run() {
	defer close(w.done)
	ticker := time.NewTicker(w.tick)
	defer ticker.Stop()
	var due []*Timer
	for {
		select {
		case <-w.stop:
			return
		case <-ticker.C:
			// Not the time the tick carries: a tick that fell due while
			// the wheel slept is delivered when it wakes, with the time it
			// fell due (as long ago as the sleep).
			now := time.Now()
			w.now.Store(now.UnixNano())
			due = w.advance(now, due[:0])
			for i, t := range due {
				t.f()
				due[i] = nil
			}
			if w.idle() {
				// Nothing scheduled: sleep until Schedule pokes us, so an idle
				// server costs no wake-ups at all.
				w.sleeping.Store(true)
				select {
				case <-w.stop:
					return
				case <-w.wake:
					// The clock first: once sleeping is false, readers
					// take it as fresh.
					w.now.Store(time.Now().UnixNano())
					w.sleeping.Store(false)
				}
			}
		}
	}
}

func (w *Wheel) idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count == 0
}

// advance processes every slot up to the present tick and collects the due
// timers into due.
func (w *Wheel) advance(now time.Time, due []*Timer) []*Timer {
	target := uint64(now.Sub(w.start) / w.tick)
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.cur < target {
		w.cur++
		head := &w.slots[w.cur%slotCount]
		for t := head.next; t != head; {
			next := t.next
			if t.rounds > 0 {
				t.rounds--
			} else {
				w.unlinkLocked(t)
				due = append(due, t)
			}
			t = next
		}
	}
	return due
}
