package getty

import "time"

// A session's timers live on its endpoint's shared timing wheel: the read
// idle check, the write-stall watchdog and the cron tick. Their callbacks run
// on the wheel goroutine and only look at atomics, set deadlines or start a
// goroutine; they never block.

func (s *Session[T]) startTimers() {
	o := &s.e.opts
	if o.ReadTimeout > 0 {
		s.readTimer = s.e.wheel.NewTimer(s.onReadTimer)
		first := o.ReadTimeout
		if _, ok := s.conn.(Pinger); ok {
			first /= 2 // time for the first keepalive probe
		}
		s.readTimer.Schedule(first)
	}
	if d := s.e.firstPkg; d > 0 {
		// No field keeps this timer: it fires once, and finds the session
		// closed or with a package in, or closes it.
		s.e.wheel.NewTimer(s.onFirstPackageTimer).Schedule(d)
	}
	if o.CronPeriod > 0 {
		s.cronTask = s.runCron
		s.cronTimer = s.e.wheel.NewTimer(s.onCronTimer)
		s.cronTimer.Schedule(o.CronPeriod)
	}
}

// stopTimers cancels the timers and waits until no cron run can start.
func (s *Session[T]) stopTimers() {
	s.cronMu.Lock()
	s.finished = true
	s.cronMu.Unlock()
	if s.readTimer != nil {
		s.readTimer.Cancel()
	}
	if s.cronTimer != nil {
		s.cronTimer.Cancel()
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
	p, pinger := s.conn.(Pinger)
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
		s.readTimer.Schedule(timeout - idle)
		return
	}
	if half := timeout / 2; idle < half {
		s.readTimer.Schedule(half - idle)
		return
	}
	// Read-idle for half of ReadTimeout: probe the peer, and look again when
	// the timeout would expire.
	s.ping(p)
	s.readTimer.Schedule(timeout - idle)
}

// ping runs one keepalive probe on its own goroutine (a probe may block on a
// full socket buffer; wheel callbacks must not). It skips the probe while the
// previous one is still being written.
func (s *Session[T]) ping(p Pinger) {
	s.cronMu.Lock()
	defer s.cronMu.Unlock()
	if s.finished || s.pingBusy.Swap(true) {
		return
	}
	s.tasks.Add(1)
	go func() {
		defer s.tasks.Done()
		defer s.pingBusy.Store(false)
		if err := p.Ping(); err != nil {
			s.e.log.Debug("getty: ping failed", "session", s.id, "err", err)
		}
	}()
}

func (s *Session[T]) onCronTimer() {
	s.cronMu.Lock()
	defer s.cronMu.Unlock()
	if s.finished {
		return
	}
	s.cronTimer.Schedule(s.e.opts.CronPeriod)
	if s.cronBusy.Swap(true) {
		return // the previous OnCron is still running: skip this tick
	}
	s.tasks.Add(1)
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
		if tp.TrySubmit(s.poolKey, s.cronTask) != nil {
			s.skipCron() // the pool is full: skip this tick
		}
		return
	}
	go func() {
		if pool.Submit(s.poolKey, s.cronTask) != nil {
			s.skipCron()
		}
	}()
}

func (s *Session[T]) skipCron() {
	s.cronBusy.Store(false)
	s.tasks.Done()
}

func (s *Session[T]) runCron() {
	defer s.tasks.Done()
	defer s.cronBusy.Store(false)
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
