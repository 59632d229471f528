package getty

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gettynet/getty/internal/bufpool"
	"github.com/gettynet/getty/internal/timewheel"
)

// endpoint is what every session of one Server or Client shares: codec,
// handler, options, timing wheel, buffer pool and the registry of live
// sessions.
type endpoint[T any] struct {
	codec      Codec[T]
	msgCodec   MessageCodec[T]
	detacher   Detacher[T]
	hdrEnc     HeaderEncoder[T] // nil unless the codec is one and the engine is EngineEventLoop
	zcs        sync.Pool        // *zcBatch
	handler    Handler[T]
	pktHandler PacketHandler[T]
	opts       Options
	log        *slog.Logger
	obs        Observer // nil: no hooks
	wheel      *timewheel.Wheel
	bufs       bufpool.Pool
	nextID     atomic.Uint64
	// keySalt makes the TaskPool keys of this endpoint's sessions differ
	// from those of other servers and clients sharing the pool (their ids
	// all count from 1), so that they do not share mailboxes or workers.
	keySalt uint64
	// firstPkg is the server's FirstPackageTimeout (0: none).
	firstPkg time.Duration

	mu       sync.Mutex             // guards sessions, closed, group
	sessions map[uint64]*Session[T] // but those on event loops, which their loops' tables hold once evStart ran
	group    *evGroup               // EngineEventLoop
	// evEnded is called once an event-loop session has finished (set
	// with group, before any session starts).
	evEnded func(*evConn)
	closed  error // once set, new sessions are closed with it at once
	// clock is group, for the coarse clock (now), read without mu.
	clock atomic.Pointer[evGroup]

	counters counters
}

func newEndpoint[T any](codec Codec[T], h Handler[T], o Options) (*endpoint[T], error) {
	if codec == nil {
		return nil, fmt.Errorf("%w: nil Codec", ErrInvalidOptions)
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil Handler", ErrInvalidOptions)
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Engine == EngineEventLoop && !eventLoopSupported {
		o.Logger.Info("getty: the event-loop engine needs Linux; using the goroutine engine")
		o.Engine = EngineGoroutine
	}
	e := &endpoint[T]{
		codec:    codec,
		handler:  h,
		opts:     o,
		log:      o.Logger,
		obs:      o.Observer,
		sessions: make(map[uint64]*Session[T]),
		keySalt:  rand.Uint64(),
	}
	e.msgCodec, _ = codec.(MessageCodec[T])
	e.detacher, _ = codec.(Detacher[T])
	if o.Engine == EngineEventLoop && o.TaskPool == nil && o.ZeroCopyReplies {
		e.hdrEnc, _ = codec.(HeaderEncoder[T])
	}
	e.pktHandler, _ = h.(PacketHandler[T])
	e.wheel = timewheel.New(o.TimerTick)
	return e, nil
}

func (e *endpoint[T]) setGroup(g *evGroup, ended func(*evConn)) {
	e.mu.Lock()
	e.group = g
	e.clock.Store(g)
	e.evEnded = ended
	e.mu.Unlock()
}

// register adds s to the live sessions. A session of an event loop is
// listed here while it opens (OnOpen runs before a loop takes it), then by
// the loop's table, from evStart until unregister: closeAll reaches it
// throughout.
func (e *endpoint[T]) register(s *Session[T]) {
	e.mu.Lock()
	e.sessions[s.id] = s
	closed := e.closed
	e.mu.Unlock()
	if closed != nil {
		s.closeWith(closed, true)
	}
}

// opened counts a session whose handshake succeeded, just before OnOpen.
func (e *endpoint[T]) opened(s *Session[T]) {
	e.counters.opened.Add(1)
	if e.logEnabled(slog.LevelDebug) {
		e.log.Debug("getty: session open", s.logArgs("local", addrString(s.transportConn().LocalAddr()))...)
	}
	if e.obs != nil {
		e.obs.OnOpen(s)
	}
}

// unregister removes a finished session and moves its counters to the
// endpoint's. It runs once per session, after OnClose.
func (e *endpoint[T]) unregister(s *Session[T], cause error) {
	e.mu.Lock()
	delete(e.sessions, s.id) // an event-loop session that never reached its loop is still here
	if s.onLoop() {
		s.evRelease()
	}
	e.counters.bytesIn.Add(s.bytesIn.Load())
	e.counters.bytesOut.Add(s.bytesOut.Load())
	e.counters.pkgsIn.Add(s.pkgsIn.Load())
	e.counters.pkgsOut.Add(s.pkgsOut.Load())
	e.mu.Unlock()
	if !s.opened {
		// The handshake failed (or was cut short): the session never
		// opened, and its error reached no handler.
		e.counters.handshakeFailed.Add(1)
		if e.logEnabled(slog.LevelDebug) {
			e.log.Debug("getty: handshake failed", s.logArgs("err", cause)...)
		}
		if e.obs != nil {
			var op *OpError
			if !errors.As(cause, &op) || op.Op != "handshake" {
				cause = &OpError{Op: "handshake", Session: s.id, Addr: s.transportConn().RemoteAddr(), Err: cause}
			}
			e.obs.OnError(s, cause)
		}
		return
	}
	class := CauseOf(cause)
	e.counters.closed[class].Add(1)
	if e.logEnabled(slog.LevelDebug) {
		st := s.Stats()
		e.log.Debug("getty: session closed", s.logArgs("cause", class.String(), "err", cause,
			"bytes_in", st.BytesIn, "bytes_out", st.BytesOut, "packages_in", st.PackagesIn, "packages_out", st.PackagesOut,
			"duration", time.Since(st.Started))...)
	}
	if e.obs != nil {
		e.obs.OnClose(s, class, cause)
	}
}

// closeAll closes every live session, and every session that registers
// later, with cause.
func (e *endpoint[T]) closeAll(cause error, graceful bool) {
	e.mu.Lock()
	if e.closed == nil {
		e.closed = cause
	}
	live := e.liveLocked()
	e.mu.Unlock()
	for _, s := range live {
		s.closeWith(cause, graceful)
	}
}

// each calls f for every live session until f returns false.
func (e *endpoint[T]) each(f func(*Session[T]) bool) {
	e.mu.Lock()
	live := e.liveLocked()
	e.mu.Unlock()
	for _, s := range live {
		if !f(s) {
			return
		}
	}
}

// stats sums the endpoint's counters and those of its live sessions. The
// byte and package counts are read under e.mu, as unregister moves them, so
// that a closing session is counted exactly once.
func (e *endpoint[T]) stats() Stats {
	e.mu.Lock()
	st := e.counters.snapshot()
	live := e.liveLocked()
	for _, s := range live {
		st.BytesIn += s.bytesIn.Load()
		st.BytesOut += s.bytesOut.Load()
		st.PackagesIn += s.pkgsIn.Load()
		st.PackagesOut += s.pkgsOut.Load()
	}
	e.mu.Unlock()
	for _, s := range live {
		st.Backlog += int64(s.w.backlog())
	}
	return st
}

// liveLocked lists the live sessions (e.mu held).
func (e *endpoint[T]) liveLocked() []*Session[T] {
	live := make([]*Session[T], 0, len(e.sessions))
	for _, s := range e.sessions {
		live = append(live, s)
	}
	return e.evAppend(live)
}
