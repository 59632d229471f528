package getty

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gettynet/getty/internal/eventloop"
	"golang.org/x/sys/unix"
)

const eventLoopSupported = true

// evGroup is the event loops of an EngineEventLoop server or client, and
// the descriptor it keeps in reserve for taking connections over.
type evGroup struct {
	*eventloop.Group[*evConn]
	spare *spareFD
}

func newEvGroup(o *Options) (*evGroup, error) {
	g, err := eventloop.NewGroup[*evConn](o.EventLoops, max(o.MaxReadBufferSize, 64<<10))
	if err != nil {
		return nil, err
	}
	return &evGroup{Group: g, spare: newSpareFD()}, nil
}

// Close stops the loops and releases the spare descriptor.
func (g *evGroup) Close() error {
	err := g.Group.Close()
	if serr := g.spare.Close(); err == nil {
		err = serr
	}
	return err
}

// evStart hands an opened session to a loop of g. The session then ends
// through evEnd, which calls the endpoint's evEnded.
func (s *Session[T]) evStart(g *evGroup, ec *evConn) {
	ec.sess = s
	s.startTimers()
	// Under e.mu the session moves from the endpoint's list, where it
	// was while it opened, to the loop's table: closeAll, Range and Stats
	// find it in exactly one of them. Under ec.mu, a stop requested
	// meanwhile waits until the descriptor is registered (tryStop fails to
	// lock, and is retried below), and so do the events of the descriptor.
	s.e.mu.Lock()
	ec.mu.Lock()
	ec.set(evStarted)
	loop := g.Next()
	slot, err := loop.Add(int(ec.fd), ec)
	if err == nil {
		delete(s.e.sessions, s.id)
		ec.loop, ec.slot = loop, slot
		ec.set(evRegistered)
		if ec.has(evWantOut) {
			// A write in OnOpen found the socket full. Under mu: once it
			// is unlocked the session may end, close the descriptor (its
			// number then taken by another connection) and leave the loop.
			ec.watchOut()
		}
	}
	ec.mu.Unlock()
	closed := s.e.closed
	s.e.mu.Unlock()
	if err != nil {
		s.closeWith(&OpError{Op: "read", Session: s.id, Addr: ec.RemoteAddr(), Err: err}, false)
	} else if closed != nil {
		// The server or client is closing: the close found the session in
		// the endpoint's list (or register saw e.closed); this is a no-op
		// then, kept as a safety net.
		s.closeWith(closed, true)
	}
	if ec.has(evStopReq) {
		ec.tryStop() // closed while opening
	}
}

// evRead reads the socket until it is drained (edge-triggered) and
// dispatches the packages. It runs on the loop with ec.mu held. Only the
// unconsumed tail of a partial package outlives the call, in the
// connection's tail.
func (s *Session[T]) evRead(ec *evConn, buf []byte, hup bool) (bool, error) {
	if s.msg != nil {
		return s.evReadFrames(ec, buf, hup) // a FramedConn (evlayer_linux.go)
	}
	e := s.e
	o := &e.opts
	for {
		n, end, err := s.evReadOnce(ec, buf, "package")
		if n == 0 {
			return end, err
		}
		s.bytesIn.Add(uint64(n))
		s.lastRead.Store(e.now())
		data := ec.withTail(&e.bufs, buf[:n])
		var before uint64
		if e.obs != nil {
			before = s.pkgsIn.Load()
		}
		used, panicked, derr := s.evConsume(data)
		if panicked {
			return true, nil // the panic closed the session
		}
		if e.obs != nil {
			e.obs.OnRead(s, n, int(s.pkgsIn.Load()-before))
		}
		if derr != nil {
			return true, derr
		}
		rest := data[used:]
		if len(rest) >= o.MaxPackageSize {
			return true, fmt.Errorf("%w: no package ends within %d bytes", ErrMessageTooLarge, o.MaxPackageSize)
		}
		ec.keepTail(&e.bufs, rest)
		if s.closing.Load() {
			return false, nil // the close that set it stops the loop's reading
		}
		if n < len(buf) && !hup {
			return false, nil // drained: the next arrival raises a new edge
		}
	}
}

// evEnd finishes a session whose reading has ended, like the end of serve.
func (s *Session[T]) evEnd(err error) {
	ec := s.evConn()
	defer s.e.evEnded(ec)
	defer s.finish()
	ec.dropTail(&s.e.bufs)
	s.waitReadTasks()
	s.closeWith(s.readCause(err))
}

// evConsume is consume with the read loop's panic recovery: a panicking
// callback closes its session, never the loop.
func (s *Session[T]) evConsume(data []byte) (used int, panicked bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.closeWith(s.panicError(r), true)
			panicked = true
		}
	}()
	used, err = s.consume(data)
	return used, false, err
}

// evStalled returns the event-loop connection of s if its loop may be
// unable to report output space to a waiting flusher until a callback
// returns: the loop does not watch the connection yet (OnOpen), or a
// callback holds s.cb (running on the loop, or off it, OnCron, where the
// loop waits for it as soon as a package comes). Otherwise nil.
func (s *Session[T]) evStalled() *evConn {
	ec := s.evConn()
	if ec == nil {
		return nil
	}
	if !ec.has(evRegistered) {
		return ec
	}
	if s.cb.TryLock() {
		s.cb.Unlock() // no callback runs: the loop is free to report output space
		return nil
	}
	return ec
}

// onLoop reports whether an event loop drives s.
func (s *Session[T]) onLoop() bool {
	return s.evConn() != nil
}

// evRelease frees the loop table slot of s, which lists it as live until
// its counters move to the endpoint's (unregister, e.mu held).
func (s *Session[T]) evRelease() {
	ec := s.evConn()
	ec.mu.Lock()
	loop := ec.loop
	ec.loop = nil
	ec.mu.Unlock()
	if loop != nil {
		loop.Release(ec.slot)
	}
}

// evAppend appends the sessions of e's event loops to live (e.mu held).
func (e *endpoint[T]) evAppend(live []*Session[T]) []*Session[T] {
	if e.group == nil {
		return live
	}
	e.group.Each(func(c *evConn) {
		if s, ok := c.sess.(*Session[T]); ok {
			live = append(live, s)
		}
	})
	return live
}

// evReadOnce reads the socket once into buf. With n == 0 there is nothing
// to consume: the socket is drained (end false), or reading has ended
// (end true) with err, io.EOF for an orderly close, io.ErrUnexpectedEOF
// when it cut a unit (a "package" or "frame") in the tail.
func (s *Session[T]) evReadOnce(ec *evConn, buf []byte, unit string) (n int, end bool, err error) {
	for {
		n, err = rawRead(ec.fd, buf)
		switch {
		case err == nil && n > 0:
			return n, false, nil
		case err == nil:
			if p := ec.pending(); p > 0 && !s.closing.Load() {
				return 0, true, fmt.Errorf("%w: connection closed inside a %s (%d bytes pending)", io.ErrUnexpectedEOF, unit, p)
			}
			return 0, true, io.EOF
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, false, nil
		}
		return 0, true, ec.opError("read", os.NewSyscallError("read", err))
	}
}

// now is the coarse clock of lastRead and lastWrite: the timing wheel's
// while it ticks (its timeouts compare against it), else the event loops'
// while one is awake (the time their batch began), else time.Now.
func (e *endpoint[T]) now() int64 {
	if t, ok := e.wheel.Ticking(); ok {
		return t
	}
	if g := e.clock.Load(); g != nil {
		if t, ok := g.Now(); ok {
			return t
		}
	}
	return time.Now().UnixNano()
}
