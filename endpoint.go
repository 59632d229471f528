package getty

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"

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
	handler    Handler[T]
	pktHandler PacketHandler[T]
	opts       Options
	log        *slog.Logger
	wheel      *timewheel.Wheel
	bufs       bufpool.Pool
	nextID     atomic.Uint64
	// keySalt makes the TaskPool keys of this endpoint's sessions differ
	// from those of other servers and clients sharing the pool (their ids
	// all count from 1), so that they do not share mailboxes or workers.
	keySalt uint64

	mu       sync.Mutex // guards sessions, closed
	sessions map[uint64]*Session[T]
	closed   error // once set, new sessions are closed with it at once

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
	e := &endpoint[T]{
		codec:    codec,
		handler:  h,
		opts:     o,
		log:      o.Logger,
		sessions: make(map[uint64]*Session[T]),
		keySalt:  rand.Uint64(),
	}
	e.msgCodec, _ = codec.(MessageCodec[T])
	e.detacher, _ = codec.(Detacher[T])
	e.pktHandler, _ = h.(PacketHandler[T])
	e.wheel = timewheel.New(o.TimerTick)
	return e, nil
}

func (e *endpoint[T]) register(s *Session[T]) {
	e.mu.Lock()
	e.sessions[s.id] = s
	closed := e.closed
	e.mu.Unlock()
	e.counters.opened.Add(1)
	if closed != nil {
		s.closeWith(closed, true)
	}
}

func (e *endpoint[T]) unregister(s *Session[T], cause error) {
	e.mu.Lock()
	delete(e.sessions, s.id)
	e.mu.Unlock()
	e.counters.closed.Add(1)
	e.counters.bytesIn.Add(s.bytesIn.Load())
	e.counters.bytesOut.Add(s.bytesOut.Load())
	e.counters.pkgsIn.Add(s.pkgsIn.Load())
	e.counters.pkgsOut.Add(s.pkgsOut.Load())
	e.log.Debug("getty: session closed", "session", s.id, "remote", addrString(s.conn.RemoteAddr()), "cause", cause)
}

// closeAll closes every live session, and every session that registers
// later, with cause.
func (e *endpoint[T]) closeAll(cause error, graceful bool) {
	e.mu.Lock()
	if e.closed == nil {
		e.closed = cause
	}
	live := make([]*Session[T], 0, len(e.sessions))
	for _, s := range e.sessions {
		live = append(live, s)
	}
	e.mu.Unlock()
	for _, s := range live {
		s.closeWith(cause, graceful)
	}
}

// each calls f for every live session until f returns false.
func (e *endpoint[T]) each(f func(*Session[T]) bool) {
	e.mu.Lock()
	live := make([]*Session[T], 0, len(e.sessions))
	for _, s := range e.sessions {
		live = append(live, s)
	}
	e.mu.Unlock()
	for _, s := range live {
		if !f(s) {
			return
		}
	}
}

func (e *endpoint[T]) stats() Stats {
	st := e.counters.snapshot()
	e.each(func(s *Session[T]) bool {
		st.BytesIn += s.bytesIn.Load()
		st.BytesOut += s.bytesOut.Load()
		st.PackagesIn += s.pkgsIn.Load()
		st.PackagesOut += s.pkgsOut.Load()
		return true
	})
	return st
}
