package getty

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gettynet/getty/internal/eventloop"
	"golang.org/x/sys/unix"
)

const eventLoopSupported = true

// evGroup is the event loops of an EngineEventLoop server or client, and
// the descriptor it keeps in reserve for taking connections over.
type evGroup struct {
	*eventloop.Group
	spare *spareFD
}

func newEvGroup(o *Options) (*evGroup, error) {
	g, err := eventloop.NewGroup(o.EventLoops, max(o.MaxReadBufferSize, 64<<10))
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
// through evEnd, which calls done.
func (s *Session[T]) evStart(g *evGroup, ec *evConn, done func()) {
	ec.sess = s
	ec.done = done
	ec.loop = g.Next()
	s.startTimers()
	// Under mu, a stop requested meanwhile waits until the descriptor is
	// registered (tryStop fails to lock, and is retried below).
	ec.mu.Lock()
	ec.started.Store(true)
	err := ec.loop.Add(ec.fd, ec)
	ec.mu.Unlock()
	if err != nil {
		s.closeWith(&OpError{Op: "read", Session: s.id, Addr: ec.remote, Err: err}, false)
	}
	if ec.stopReq.Load() {
		ec.tryStop() // closed while opening
	}
}

// evRead reads the socket until it is drained (edge-triggered) and
// dispatches the packages. It runs on the loop with ec.mu held. Only the
// unconsumed tail of a partial package outlives the call, in s.tail.
func (s *Session[T]) evRead(ec *evConn, buf []byte, hup bool) (bool, error) {
	e := s.e
	o := &e.opts
	for {
		n, err := unix.Read(ec.fd, buf)
		if err != nil {
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.EAGAIN):
				return false, nil
			}
			return true, ec.opError("read", os.NewSyscallError("read", err))
		}
		if n == 0 {
			if s.tail != nil && len(*s.tail) > 0 && !s.closing.Load() {
				return true, fmt.Errorf("%w: connection closed inside a package (%d bytes pending)", io.ErrUnexpectedEOF, len(*s.tail))
			}
			return true, io.EOF
		}
		s.bytesIn.Add(uint64(n))
		s.lastRead.Store(e.wheel.Now())
		data := buf[:n]
		if s.tail != nil {
			t := *s.tail
			if cap(t)-len(t) < n {
				nt := e.bufs.Get(len(t) + n)
				*nt = append(*nt, t...)
				e.bufs.Put(s.tail)
				s.tail = nt
			}
			*s.tail = append(*s.tail, data...)
			data = *s.tail
		}
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
		switch {
		case len(rest) == 0:
			if s.tail != nil {
				e.bufs.Put(s.tail)
				s.tail = nil
			}
		case len(rest) >= o.MaxPackageSize:
			return true, fmt.Errorf("%w: no package ends within %d bytes", ErrMessageTooLarge, o.MaxPackageSize)
		case s.tail != nil:
			*s.tail = (*s.tail)[:copy(*s.tail, rest)]
		default:
			t := e.bufs.Get(len(rest))
			*t = append(*t, rest...)
			s.tail = t
		}
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
	ec := s.conn.(*evConn)
	defer ec.done()
	defer s.finish()
	if s.tail != nil {
		s.e.bufs.Put(s.tail)
		s.tail = nil
	}
	s.readTasks.Wait()
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
