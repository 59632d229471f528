package getty

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gettynet/getty/internal/timewheel"
)

// A session's timers live on its endpoint's shared timing wheel: the read
// idle check, the write-stall watchdog and the cron tick. Their callbacks run
// on the wheel goroutine and only look at atomics, set deadlines or start a
// goroutine; they never block.

// timerState is what a session with ReadTimeout or CronPeriod needs: its
// timers, and the goroutines and pooled ticks they start.
type timerState struct {
	readTimer *timewheel.Timer
	cronTimer *timewheel.Timer
	mu        sync.Mutex // guards finished, and tasks.Add against Wait
	finished  bool
	cronBusy  atomic.Bool
	pingBusy  atomic.Bool
	cronTask  func()         // s.runCron, bound once
	tasks     sync.WaitGroup // cron goroutines, pooled cron ticks and pings
}

func (s *Session[T]) startTimers() {
	o := &s.e.opts
	if o.ReadTimeout > 0 || o.CronPeriod > 0 {
		s.tm = &timerState{}
	}
	if o.ReadTimeout > 0 {
		s.tm.readTimer = s.e.wheel.NewTimer(s.onReadTimer)
		first := o.ReadTimeout
		if _, ok := s.transportConn().(Pinger); ok {
			first /= 2 // time for the first keepalive probe
		}
		s.tm.readTimer.Schedule(first)
	}
	if d := s.e.firstPkg; d > 0 {
		// No field keeps this timer: it fires once, and finds the session
		// closed or with a package in, or closes it.
		s.e.wheel.NewTimer(s.onFirstPackageTimer).Schedule(d)
	}
	if o.CronPeriod > 0 {
		s.tm.cronTask = s.runCron
		s.tm.cronTimer = s.e.wheel.NewTimer(s.onCronTimer)
		s.tm.cronTimer.Schedule(o.CronPeriod)
	}
}

// stopTimers cancels the timers and waits until no cron run can start.
func (s *Session[T]) stopTimers() {
	if s.tm == nil {
		return
	}
	s.tm.mu.Lock()
	s.tm.finished = true
	s.tm.mu.Unlock()
	if s.tm.readTimer != nil {
		s.tm.readTimer.Cancel()
	}
	if s.tm.cronTimer != nil {
		s.tm.cronTimer.Cancel()
	}
	// The write watchdog stays until the final flush is done; drain cancels it.
}

func (s *Session[T]) onFirstPackageTimer() {
	if !s.closing.Load() && s.pkgsIn.Load() == 0 {
		s.closeWith(ErrFirstPackageTimeout, true)
	}
}

func (s *Session[T]) onReadTimer() {
	if s.closing.Load() {
		return
	}
	now := s.e.wheel.Now()
	last := s.lastRead.Load()
	p, pinger := s.transportConn().(Pinger)
	if pinger {
		if pong := p.LastPong(); !pong.IsZero() && pong.UnixNano() > last {
			last = pong.UnixNano()
		}
	}
	idle := time.Duration(now - last)
	timeout := s.e.opts.ReadTimeout
	if idle >= timeout {
		s.closeWith(ErrReadTimeout, true)
		return
	}
	if !pinger {
		s.tm.readTimer.Schedule(timeout - idle)
		return
	}
	if half := timeout / 2; idle < half {
		s.tm.readTimer.Schedule(half - idle)
		return
	}
	// Read-idle for half of ReadTimeout: probe the peer, and look again when
	// the timeout would expire.
	s.ping(p)
	s.tm.readTimer.Schedule(timeout - idle)
}

// ping runs one keepalive probe on its own goroutine (a probe may block on a
// full socket buffer; wheel callbacks must not). It skips the probe while the
// previous one is still being written.
func (s *Session[T]) ping(p Pinger) {
	s.tm.mu.Lock()
	defer s.tm.mu.Unlock()
	if s.tm.finished || s.tm.pingBusy.Swap(true) {
		return
	}
	s.tm.tasks.Add(1)
	go func() {
		defer s.tm.tasks.Done()
		defer s.tm.pingBusy.Store(false)
		if err := p.Ping(); err != nil {
			s.e.log.Debug("getty: ping failed", "session", s.id, "err", err)
		}
	}()
}

func (s *Session[T]) onCronTimer() {
	s.tm.mu.Lock()
	defer s.tm.mu.Unlock()
	if s.tm.finished {
		return
	}
	s.tm.cronTimer.Schedule(s.e.opts.CronPeriod)
	if s.tm.cronBusy.Swap(true) {
		return // the previous OnCron is still running: skip this tick
	}
	s.tm.tasks.Add(1)
	pool := s.e.opts.TaskPool
	if pool == nil {
		go s.runCron()
		return
	}
	// The wheel must not block (a full pool under the Block policy) nor run
	// the handler itself (RunInCaller): submit without blocking if the pool
	// can, else from a goroutine of the session.
	if tp, ok := pool.(interface {
		TrySubmit(key uint64, task func()) error
	}); ok {
		if tp.TrySubmit(s.poolKey(), s.tm.cronTask) != nil {
			s.skipCron() // the pool is full: skip this tick
		}
		return
	}
	go func() {
		if pool.Submit(s.poolKey(), s.tm.cronTask) != nil {
			s.skipCron()
		}
	}()
}

func (s *Session[T]) skipCron() {
	s.tm.cronBusy.Store(false)
	s.tm.tasks.Done()
}

func (s *Session[T]) runCron() {
	defer s.tm.tasks.Done()
	defer s.tm.cronBusy.Store(false)
	if s.e.opts.TaskPool == nil {
		s.cb.Lock()
		defer s.cb.Unlock()
	}
	if s.closing.Load() {
		return
	}
	if err := s.safeCall(func() error { s.e.handler.OnCron(s); return nil }); err != nil {
		s.closeWith(err, true)
	}
}
