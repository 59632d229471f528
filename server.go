package getty

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server accepts connections from one or more Listeners and runs a Session
// for each. Its methods are safe for concurrent use.
type Server[T any] struct {
	e           *endpoint[T]
	maxSessions int64
	active      atomic.Int64
	perIP       *ipLimiter // nil: no MaxSessionsPerIP

	mu        sync.Mutex // guards listeners, shutdown, and wg.Add against Wait
	listeners map[*Listener]struct{}
	shutdown  bool
	done      chan struct{} // closed by Shutdown
	wg        sync.WaitGroup
	stopOnce  sync.Once
	group     *evGroup // EngineEventLoop: made by the first Serve
}

// NewServer returns a server that decodes with codec and reports to h. A nil
// opts means defaults.
func NewServer[T any](codec Codec[T], h Handler[T], opts *ServerOptions) (*Server[T], error) {
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxSessions < 0 || o.MaxSessionsPerIP < 0 || o.FirstPackageTimeout < 0 {
		return nil, errors.Join(ErrInvalidOptions, errors.New("MaxSessions, MaxSessionsPerIP and FirstPackageTimeout must not be negative"))
	}
	e, err := newEndpoint(codec, h, o.Options)
	if err != nil {
		return nil, err
	}
	e.firstPkg = o.FirstPackageTimeout
	return &Server[T]{
		e:           e,
		perIP:       newIPLimiter(o.MaxSessionsPerIP),
		maxSessions: int64(o.MaxSessions),
		listeners:   make(map[*Listener]struct{}),
		done:        make(chan struct{}),
	}, nil
}

// Serve accepts connections from l until l fails or the server shuts down,
// and returns ErrServerClosed after Shutdown or Close. Temporary accept
// errors (such as running out of file descriptors) are retried with a
// backoff of up to one second. Serve may be called for several listeners at
// once.
func (srv *Server[T]) Serve(l Listener) error {
	srv.mu.Lock()
	if srv.shutdown {
		srv.mu.Unlock()
		l.Close() //nolint:errcheck // refused listener; the caller gets ErrServerClosed
		return ErrServerClosed
	}
	if srv.e.opts.Engine == EngineEventLoop {
		if err := srv.evServeLocked(l); err != nil {
			srv.mu.Unlock()
			return err
		}
	}
	key := &l
	srv.listeners[key] = struct{}{}
	srv.wg.Add(1)
	srv.mu.Unlock()
	defer srv.wg.Done()
	defer func() {
		srv.mu.Lock()
		delete(srv.listeners, key)
		srv.mu.Unlock()
	}()

	if fl, ok := l.(fdListener); ok && srv.group != nil {
		return srv.evServe(l, fl)
	}
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if !srv.acceptFailed(l, err, &backoff) {
				return srv.acceptError(l, err)
			}
			continue
		}
		backoff = 0
		if !srv.start(c) {
			if srv.isShutdown() {
				return ErrServerClosed
			}
		}
	}
}

// acceptFailed reports whether accepting from l should go on after err,
// once a backoff has passed.
func (srv *Server[T]) acceptFailed(l Listener, err error, backoff *time.Duration) bool {
	if srv.isShutdown() || !isTemporaryAccept(err) {
		return false
	}
	*backoff = min(max(2**backoff, 5*time.Millisecond), time.Second)
	srv.e.log.Warn("getty: accept failed; retrying", "addr", addrString(l.Addr()), "err", err, "backoff", *backoff)
	select {
	case <-time.After(*backoff):
		return true
	case <-srv.done:
		return false
	}
}

// acceptError is what Serve returns when accepting from l ends with err.
func (srv *Server[T]) acceptError(l Listener, err error) error {
	if srv.isShutdown() {
		return ErrServerClosed
	}
	return &OpError{Op: "accept", Addr: l.Addr(), Err: err}
}

// start runs a session for c on a new goroutine, unless the server is full
// or shutting down.
func (srv *Server[T]) start(c Conn) bool {
	e := srv.e
	e.counters.accepted.Add(1)
	if n := srv.active.Add(1); srv.maxSessions > 0 && n > srv.maxSessions {
		srv.active.Add(-1)
		e.counters.rejectedLimit.Add(1)
		e.log.Warn("getty: session limit reached; connection refused", "remote", addrString(c.RemoteAddr()),
			"transport", TransportName(c), "limit", srv.maxSessions, "err", ErrTooManySessions)
		if e.obs != nil {
			e.obs.OnRefuse(c.RemoteAddr(), ErrTooManySessions)
		}
		closeQuietly(c, e)
		return false
	}
	var ip netip.Addr
	if srv.perIP != nil {
		var ok bool
		if ip, ok = srv.perIP.acquire(c.RemoteAddr()); !ok {
			srv.active.Add(-1)
			e.counters.rejectedLimit.Add(1)
			e.log.Warn("getty: per-IP session limit reached; connection refused", "remote", addrString(c.RemoteAddr()),
				"transport", TransportName(c), "limit", srv.perIP.max, "err", ErrTooManySessionsPerIP)
			if e.obs != nil {
				e.obs.OnRefuse(c.RemoteAddr(), ErrTooManySessionsPerIP)
			}
			closeQuietly(c, e)
			return false
		}
	}
	srv.mu.Lock()
	if srv.shutdown {
		srv.mu.Unlock()
		srv.active.Add(-1)
		if srv.perIP != nil {
			srv.perIP.release(ip)
		}
		closeQuietly(c, e)
		return false
	}
	srv.wg.Add(1)
	srv.mu.Unlock()
	if srv.group != nil {
		srv.evStart(c, ip)
		return true
	}
	go func() {
		defer srv.wg.Done()
		defer srv.active.Add(-1)
		if srv.perIP != nil {
			defer srv.perIP.release(ip)
		}
		s, err := newSession(e, c)
		if err != nil {
			e.log.Error("getty: unusable connection", "remote", addrString(c.RemoteAddr()), "err", err)
			closeQuietly(c, e)
			return
		}
		if s.open() == nil {
			s.serve()
		}
	}()
	return true
}

// evServeLocked checks that l yields connections the event loops can
// drive and starts the loops on first use.
func (srv *Server[T]) evServeLocked(l Listener) error {
	if p, ok := l.(interface{ PlainStream() bool }); !ok || !p.PlainStream() {
		return &OpError{Op: "accept", Addr: l.Addr(), Err: fmt.Errorf("%w: the event-loop engine serves plain TCP and Unix stream listeners, not %T (TLS and PROXY protocol need EngineGoroutine)", ErrEngineUnsupported, l)}
	}
	if srv.group != nil {
		return nil
	}
	g, err := newEvGroup(&srv.e.opts)
	if err != nil {
		return &OpError{Op: "accept", Addr: l.Addr(), Err: err}
	}
	srv.group = g
	srv.e.setGroup(g, func(ec *evConn) {
		// The per-IP count was taken for the same address (ipOf).
		srv.evDone(ipOf(ec.RemoteAddr()))
	})
	return nil
}

// evDone ends an event-loop session's share of the server: its place in
// the limits and in wg.
func (srv *Server[T]) evDone(ip netip.Addr) {
	if srv.perIP != nil {
		srv.perIP.release(ip)
	}
	srv.active.Add(-1)
	srv.wg.Done()
}

// evStart opens a session for c on the accepting goroutine and hands it to
// an event loop.
func (srv *Server[T]) evStart(c Conn, ip netip.Addr) {
	done := func() { srv.evDone(ip) }
	e := srv.e
	evc, ec, err := evWrap(c, srv.group.spare)
	if err != nil {
		e.log.Error("getty: connection refused by the event-loop engine", "remote", addrString(c.RemoteAddr()), "err", err)
		closeQuietly(c, e)
		done()
		return
	}
	s, err := newSession(e, evc)
	if err != nil {
		closeQuietly(evc, e)
		done()
		return
	}
	if s.open() != nil {
		done()
		return
	}
	s.evStart(srv.group, ec)
}

func closeQuietly[T any](c Conn, e *endpoint[T]) {
	if err := c.Close(); err != nil {
		e.log.Debug("getty: closing refused connection", "err", err)
	}
}

func (srv *Server[T]) isShutdown() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.shutdown
}

// isTemporaryAccept reports accept errors worth retrying: descriptor or
// memory exhaustion and connections aborted before accept.
func isTemporaryAccept(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary() && !errors.Is(err, net.ErrClosed)
}

// Shutdown stops accepting, closes every session gracefully (each flushes
// what it has queued) and waits until every goroutine of the server has
// ended. If ctx ends first, the remaining sessions are aborted, Shutdown
// still waits for them (briefly: their I/O fails at once) and returns
// ctx.Err().
func (srv *Server[T]) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	first := !srv.shutdown
	srv.shutdown = true
	ls := make([]Listener, 0, len(srv.listeners))
	for l := range srv.listeners {
		ls = append(ls, *l)
	}
	srv.mu.Unlock()
	if first {
		close(srv.done)
		for _, l := range ls {
			if err := l.Close(); err != nil {
				srv.e.log.Debug("getty: closing listener", "err", err)
			}
		}
	}
	srv.e.closeAll(ErrServerClosed, true)

	done := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		srv.e.closeAll(ErrServerClosed, false)
		<-done
	}
	srv.stopOnce.Do(func() {
		srv.e.wheel.Stop()
		srv.mu.Lock()
		g := srv.group
		srv.mu.Unlock()
		if g != nil {
			g.Close() //nolint:errcheck // stopping loops cannot fail
		}
	})
	return err
}

// Close shuts the server down without waiting for queued writes: every
// session is aborted. It returns once every goroutine has ended.
func (srv *Server[T]) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Range calls f for each live session until f returns false (to broadcast,
// say). Sessions opening or closing meanwhile may or may not be visited.
func (srv *Server[T]) Range(f func(s *Session[T]) bool) { srv.e.each(f) }

// Stats returns a snapshot of the server's counters.
func (srv *Server[T]) Stats() Stats { return srv.e.stats() }
