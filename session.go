package getty

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Session is one live connection: it reads, decodes and dispatches packages
// to the Handler, and encodes and writes packages from any goroutine.
//
// Every method is safe for concurrent use. Writes from many goroutines keep
// each package whole and are batched into as few system calls as possible.
type Session[T any] struct {
	e      *endpoint[T]
	id     uint64
	stream net.Conn     // set for stream transports
	msg    *msgConn     // set for message transports
	extra  *sessionData // context, attributes and close cause, made on first use (closeMu)

	cb sync.Mutex // serializes handler callbacks (without a TaskPool)

	closeMu     sync.Mutex // guards extra
	closing     atomic.Bool
	dispatching atomic.Int32 // callbacks handling packages now: they may still write while the session closes

	w writer[T]

	started   int64        // UnixNano
	lastRead  atomic.Int64 // coarse UnixNano
	lastWrite atomic.Int64
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
	pkgsIn    atomic.Uint64
	pkgsOut   atomic.Uint64

	tm   *timerState // with ReadTimeout or CronPeriod only
	pool *pooled[T]  // with a TaskPool only

	opened bool // OnOpen ran; written before the read loop starts
}

// aLongTimeAgo is a deadline in the past: setting it wakes blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

func newSession[T any](e *endpoint[T], conn Conn) (*Session[T], error) {
	s := &Session[T]{e: e, started: time.Now().UnixNano()}
	switch c := conn.(type) {
	case MessageConn:
		s.msg = &msgConn{c: c}
		s.msg.limit, _ = c.(MessageLimiter)
		s.msg.pkt, _ = c.(PacketConn)
	case net.Conn:
		s.stream = c
	default:
		return nil, fmt.Errorf("%w: connection %T is neither a net.Conn nor a MessageConn", ErrInvalidOptions, conn)
	}
	s.id = e.nextID.Add(1)
	now := e.wheel.Now()
	s.lastRead.Store(now)
	s.lastWrite.Store(now)
	s.w.init(s)
	if e.opts.TaskPool != nil {
		s.pool = &pooled[T]{}
		s.pool.run = s.runPooled
	}
	return s, nil
}

// poolKey is the session's TaskPool key: its id mixed with the endpoint's
// salt.
func (s *Session[T]) poolKey() uint64 { return s.id ^ s.e.keySalt }

// ID is the session's identifier, unique within its server or client.
func (s *Session[T]) ID() uint64 { return s.id }

// LocalAddr is the local address of the connection.
func (s *Session[T]) LocalAddr() net.Addr { return s.transportConn().LocalAddr() }

// RemoteAddr is the peer's address, or nil for an unconnected packet socket.
func (s *Session[T]) RemoteAddr() net.Addr { return s.transportConn().RemoteAddr() }

// Conn returns the transport connection (for TLS state, peer credentials and
// the like). Reading or writing it directly corrupts the session.
func (s *Session[T]) Conn() Conn { return s.transportConn() }

// Context is cancelled when the session starts closing.
func (s *Session[T]) Context() context.Context {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	d := s.data()
	if d.ctx == nil {
		// Made on demand: most sessions never ask, and an idle session
		// should cost little.
		d.ctx, d.cancel = context.WithCancel(context.Background())
		if d.cause != nil {
			d.cancel()
		}
	}
	return d.ctx
}

// Closed reports whether the session has started closing.
func (s *Session[T]) Closed() bool { return s.closing.Load() }

// Err reports why the session closed: nil while it is open; io.EOF (or an
// error wrapping it) when the peer closed in an orderly way; ErrSessionClosed, ErrServerClosed or ErrClientClosed for a
// local close; otherwise the error that ended it (match with errors.Is).
func (s *Session[T]) Err() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.extra == nil {
		return nil
	}
	return s.extra.cause
}

// Value returns the attribute stored under key, or nil.
func (s *Session[T]) Value(key any) any {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.extra == nil {
		return nil
	}
	return s.extra.attrs[key]
}

// SetValue stores an attribute on the session; a nil value deletes it.
func (s *Session[T]) SetValue(key, value any) {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if value == nil {
		if s.extra != nil {
			delete(s.extra.attrs, key)
		}
		return
	}
	d := s.data()
	if d.attrs == nil {
		d.attrs = make(map[any]any)
	}
	d.attrs[key] = value
}

// Close closes the session gracefully: writes already accepted are flushed
// (within WriteTimeout); later writes get ErrSessionClosed. Then the
// connection is closed and OnClose runs on the session's own goroutine.
// (Server.Shutdown and Client.Close drain sessions a little more softly: a
// callback that was handling a package when the drain began may still
// write its reply, so that a package taken in is answered.) Close does not wait for that; it returns nil
// the first time and ErrSessionClosed afterwards. It is safe to call from
// callbacks.
func (s *Session[T]) Close() error {
	if !s.closeWith(ErrSessionClosed, true) {
		return ErrSessionClosed
	}
	return nil
}

// closeWith starts closing the session with cause. A graceful close lets the
// pending writes drain; an abrupt one fails every blocked I/O at once. It
// reports whether this call started the close; a later abrupt call still
// escalates a graceful close in progress.
func (s *Session[T]) closeWith(cause error, graceful bool) bool {
	s.closeMu.Lock()
	d := s.data()
	first := d.cause == nil
	cancel := d.cancel
	if first {
		d.cause = cause
		s.closing.Store(true)
	}
	s.closeMu.Unlock()
	if first {
		if cancel != nil {
			cancel()
		}
		if graceful && (errors.Is(cause, ErrServerClosed) || errors.Is(cause, ErrClientClosed)) {
			// A drain: a callback handling a package may still answer it.
			s.w.drainClose()
		} else {
			s.w.close()
		}
	}
	if graceful {
		if first {
			// Wake the read loop; the connection stays writable for the
			// final flush.
			_ = s.transportConn().SetReadDeadline(aLongTimeAgo) // best effort: a closed conn fails the read anyway
		}
	} else {
		s.abort()
	}
	return first
}

// abort makes every blocked read and write on the connection fail now.
func (s *Session[T]) abort() {
	s.w.abort()
	_ = s.transportConn().SetReadDeadline(aLongTimeAgo)  // best effort wake-up: a closed conn fails I/O anyway
	_ = s.transportConn().SetWriteDeadline(aLongTimeAgo) // best effort wake-up
}

// open runs the handshake and OnOpen. On failure the session is finished
// (OnClose runs if OnOpen did) and the error is returned.
func (s *Session[T]) open() error {
	s.e.register(s)
	if err := s.handshake(); err != nil {
		s.closeWith(err, false)
		s.finish()
		return err
	}
	s.opened = true
	s.e.opened(s)
	err := s.safeCall(func() error { return s.e.handler.OnOpen(s) })
	if err != nil {
		if !errors.Is(err, ErrPanic) {
			err = fmt.Errorf("%w: %w", ErrRejected, err)
		}
		s.closeWith(err, true)
		s.finish()
		return err
	}
	return nil
}

func (s *Session[T]) handshake() error {
	h, ok := s.transportConn().(Handshaker)
	if !ok {
		return nil
	}
	ctx := s.Context()
	if t := s.e.opts.HandshakeTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if err := h.HandshakeContext(ctx); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", ErrHandshakeTimeout, err)
		}
		return &OpError{Op: "handshake", Session: s.id, Addr: s.transportConn().RemoteAddr(), Err: err}
	}
	return nil
}

// serve runs the read loop on the calling goroutine until the session ends,
// then finishes it.
func (s *Session[T]) serve() {
	defer s.finish()
	defer func() {
		if r := recover(); r != nil {
			s.closeWith(s.panicError(r), true)
		}
	}()
	s.startTimers()
	var err error
	if s.stream != nil {
		err = s.readStream()
	} else {
		err = s.readMessages()
	}
	// With a pool, the packages read so far may still be queued: handle
	// them (while the session can still reply) before a peer's close or a
	// read error ends the session, as the inline path does.
	s.waitReadTasks()
	s.closeWith(s.readCause(err))
}

func (s *Session[T]) panicError(r any) error {
	s.e.log.Error("getty: handler panicked", s.logArgs("panic", r, "stack", string(debug.Stack()))...)
	return fmt.Errorf("%w: %v", ErrPanic, r)
}

// safeCall runs a callback, turning a panic into an error wrapping ErrPanic.
func (s *Session[T]) safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.panicError(r)
		}
	}()
	return f()
}

// finish ends a session whose read loop has stopped (or never started):
// stops its timers and tasks, drains writes, closes the connection, reports
// the cause and runs OnClose. It runs exactly once, on the session's owner
// goroutine.
func (s *Session[T]) finish() {
	s.stopTimers()
	s.waitReadTasks()
	if s.tm != nil {
		s.tm.tasks.Wait()
	}
	s.w.close()
	s.w.drain()
	s.preferWriteReset()
	cause := s.Err()
	var err error
	if cc, ok := s.transportConn().(CauseCloser); ok {
		err = cc.CloseWithCause(cause)
	} else {
		err = s.transportConn().Close()
	}
	if err != nil {
		s.e.log.Debug("getty: closing connection", "session", s.id, "err", err)
	}
	s.w.release()
	if s.opened {
		if !isQuietCause(cause) {
			if s.e.obs != nil {
				s.e.obs.OnError(s, cause)
			}
			s.safeCall(func() error { s.e.handler.OnError(s, cause); return nil }) //nolint:errcheck // a panic here is logged by safeCall
		}
		s.safeCall(func() error { s.e.handler.OnClose(s); return nil }) //nolint:errcheck // a panic here is logged by safeCall
	}
	s.e.unregister(s, cause)
}

// preferWriteReset reports a reset that a write saw instead of the plain EOF
// the read loop may see for it: when a write and a read race on a stream
// socket that gets a reset, the write can take the socket's error and
// leave the read an EOF, and the session would look closed in an orderly
// way. It runs in finish, after the last write has returned.
func (s *Session[T]) preferWriteReset() {
	if s.stream == nil {
		return
	}
	werr := s.w.failure()
	if werr == nil || !errors.Is(werr, syscall.ECONNRESET) && !errors.Is(werr, syscall.EPIPE) {
		return
	}
	s.closeMu.Lock()
	if d := s.data(); errors.Is(d.cause, io.EOF) {
		d.cause = werr
	}
	s.closeMu.Unlock()
}

// Stats returns a snapshot of the session's counters.
func (s *Session[T]) Stats() SessionStats {
	return SessionStats{
		Started:     time.Unix(0, s.started),
		LastRead:    time.Unix(0, s.lastRead.Load()),
		LastWrite:   time.Unix(0, s.lastWrite.Load()),
		BytesIn:     s.bytesIn.Load(),
		BytesOut:    s.bytesOut.Load(),
		PackagesIn:  s.pkgsIn.Load(),
		PackagesOut: s.pkgsOut.Load(),
		Backlog:     s.w.backlog(),
	}
}

// transportConn is the session's connection: the stream or the message
// connection.
func (s *Session[T]) transportConn() Conn {
	if s.stream != nil {
		return s.stream
	}
	return s.msg.c
}

// sessionData is what an idle session does without, made on demand: the
// context, the attributes and, once closing, the cause.
type sessionData struct {
	ctx    context.Context
	cancel context.CancelFunc
	attrs  map[any]any
	cause  error
}

// data returns the session's sessionData, making it (closeMu held).
func (s *Session[T]) data() *sessionData {
	if s.extra == nil {
		s.extra = &sessionData{}
	}
	return s.extra
}

// msgConn is the connection of a message session, as the interfaces it
// implements.
type msgConn struct {
	c     MessageConn
	pkt   PacketConn     // a packet transport
	limit MessageLimiter // a transport with a size limit
}

// pktConn is the session's PacketConn, or nil.
func (s *Session[T]) pktConn() PacketConn {
	if s.msg == nil {
		return nil
	}
	return s.msg.pkt
}

// limiter is the session's MessageLimiter, or nil.
func (s *Session[T]) limiter() MessageLimiter {
	if s.msg == nil {
		return nil
	}
	return s.msg.limit
}

// waitReadTasks waits for the pooled tasks the read loop submitted.
func (s *Session[T]) waitReadTasks() {
	if s.pool != nil {
		s.pool.tasks.Wait()
	}
}
