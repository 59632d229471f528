package getty

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Client keeps ClientOptions.Connections sessions open to one server and
// replaces each one that drops, after a capped exponential backoff with
// jitter. Its methods are safe for concurrent use.
type Client[T any] struct {
	e      *endpoint[T]
	d      Dialer
	opts   ClientOptions
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // slot goroutines

	mu      sync.Mutex // guards slots, lastErr
	slots   []*Session[T]
	lastErr error
	next    atomic.Uint64
	closed  atomic.Bool
	group   *evGroup // EngineEventLoop

	evWaiting map[*evConn]chan struct{} // (mu) slot goroutines waiting for their event-loop session to end
}

// evEnded tells the slot goroutine of an event-loop session that it ended.
func (c *Client[T]) evEnded(ec *evConn) {
	c.mu.Lock()
	done := c.evWaiting[ec]
	delete(c.evWaiting, ec)
	c.mu.Unlock()
	close(done)
}

// Dial connects to a server through d and returns a Client once its first
// session is open; it fails if that first connection cannot be made (within
// ctx and DialTimeout) or OnOpen rejects it. The remaining connections are
// opened in the background. A nil opts means defaults.
func Dial[T any](ctx context.Context, d Dialer, codec Codec[T], h Handler[T], opts *ClientOptions) (*Client[T], error) {
	if d == nil {
		return nil, errors.Join(ErrInvalidOptions, errors.New("nil Dialer"))
	}
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	e, err := newEndpoint(codec, h, o.Options)
	if err != nil {
		return nil, err
	}
	c := &Client[T]{e: e, d: d, opts: o, slots: make([]*Session[T], o.Connections)}
	if e.opts.Engine == EngineEventLoop {
		if c.group, err = newEvGroup(&e.opts); err != nil {
			e.wheel.Stop()
			return nil, err
		}
		e.setGroup(c.group, c.evEnded)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, c.cancel)
	first, err := c.connect()
	stop()
	if err != nil {
		c.cancel()
		e.wheel.Stop()
		c.closeGroup()
		if ctx.Err() != nil {
			return nil, errors.Join(err, ctx.Err())
		}
		return nil, err
	}
	c.slots[0] = first
	for i := range c.slots {
		c.wg.Add(1)
		if i == 0 {
			go c.runSlot(i, first)
		} else {
			go c.runSlot(i, nil)
		}
	}
	return c, nil
}

// connect dials once and opens a session.
func (c *Client[T]) connect() (*Session[T], error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.DialTimeout)
	conn, err := c.d.Dial(ctx)
	cancel()
	if err != nil {
		c.e.counters.dialFailed.Add(1)
		err = &OpError{Op: "dial", Err: err}
		if c.e.obs != nil {
			c.e.obs.OnRefuse(nil, err)
		}
		return nil, err
	}
	c.e.counters.accepted.Add(1)
	if c.group != nil {
		evc, _, err := evWrap(conn, c.group.spare)
		if err != nil {
			closeQuietly(conn, c.e)
			return nil, &OpError{Op: "dial", Addr: conn.RemoteAddr(), Err: err}
		}
		conn = evc
	}
	s, err := newSession(c.e, conn)
	if err != nil {
		closeQuietly(conn, c.e)
		return nil, err
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// runSlot keeps one connection up until the client closes.
func (c *Client[T]) runSlot(i int, s *Session[T]) {
	defer c.wg.Done()
	backoff := c.opts.ReconnectMin
	attempted := s != nil
	for {
		if s != nil {
			began := time.Now()
			c.setSlot(i, s)
			c.serve(s)
			c.setSlot(i, nil)
			if time.Since(began) > 2*backoff {
				backoff = c.opts.ReconnectMin // it was a healthy session
			}
		}
		if c.ctx.Err() != nil || (c.opts.NoReconnect && attempted) {
			return
		}
		if attempted {
			// Full jitter within the upper half keeps reconnect storms apart.
			wait := backoff/2 + rand.N(backoff/2+1)
			select {
			case <-time.After(wait):
			case <-c.ctx.Done():
				return
			}
			backoff = min(2*backoff, c.opts.ReconnectMax)
		}
		attempted = true
		var err error
		if s, err = c.connect(); err != nil {
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			if c.ctx.Err() == nil {
				c.e.log.Warn("getty: connect failed", "slot", i, "err", err, "retry_in", backoff)
			}
		}
	}
}

// serve runs s until it ends: on this goroutine, or on an event loop while
// this goroutine waits.
func (c *Client[T]) serve(s *Session[T]) {
	ec := s.evConn()
	if ec == nil || c.group == nil {
		s.serve()
		return
	}
	done := make(chan struct{})
	c.mu.Lock()
	if c.evWaiting == nil {
		c.evWaiting = make(map[*evConn]chan struct{})
	}
	c.evWaiting[ec] = done
	c.mu.Unlock()
	s.evStart(c.group, ec)
	<-done
}

func (c *Client[T]) closeGroup() {
	if c.group != nil {
		c.group.Close() //nolint:errcheck // stopping loops cannot fail
	}
}

func (c *Client[T]) setSlot(i int, s *Session[T]) {
	c.mu.Lock()
	c.slots[i] = s
	c.mu.Unlock()
}

// Session returns an open session, rotating among the client's connections.
// It returns ErrNoSession (joined with the last dial error) while every
// connection is down, and ErrClientClosed after Close.
func (c *Client[T]) Session() (*Session[T], error) {
	if c.closed.Load() {
		return nil, ErrClientClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := uint64(len(c.slots))
	start := c.next.Add(1)
	for k := range n {
		if s := c.slots[(start+k)%n]; s != nil && !s.Closed() {
			return s, nil
		}
	}
	if c.lastErr != nil {
		return nil, errors.Join(ErrNoSession, c.lastErr)
	}
	return nil, ErrNoSession
}

// Close stops reconnecting (cancelling a dial or backoff in progress at
// once), closes every session gracefully and waits for every goroutine of
// the client to end. It returns ErrClientClosed when called again.
func (c *Client[T]) Close() error {
	if c.closed.Swap(true) {
		return ErrClientClosed
	}
	c.cancel()
	c.e.closeAll(ErrClientClosed, true)
	c.wg.Wait()
	c.e.wheel.Stop()
	c.closeGroup()
	return nil
}

// Stats returns a snapshot of the client's counters.
func (c *Client[T]) Stats() Stats { return c.e.stats() }
