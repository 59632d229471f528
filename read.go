package getty

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/gettynet/getty/internal/rawio"
)

// smallReadsToShrink is how many consecutive small reads (under 1/8 of the
// buffer) shrink a grown read buffer back to ReadBufferSize.
const smallReadsToShrink = 16

// readStream is the read loop of stream sessions. It returns the error that
// ended reading.
func (s *Session[T]) readStream() error {
	e := s.e
	o := &e.opts
	bp := e.bufs.Get(o.ReadBufferSize)
	defer func() { e.bufs.Put(bp) }()
	buf := (*bp)[:cap(*bp)]
	resize := func(size, from, to int) { // keeps buf[from:to] at the front
		nb := e.bufs.Get(size)
		nbuf := (*nb)[:cap(*nb)]
		copy(nbuf, buf[from:to])
		e.bufs.Put(bp)
		bp, buf = nb, nbuf
	}
	rd := rawio.NewReader(s.stream, &e.bufs)
	r, w, small := 0, 0, 0
	for {
		if w == len(buf) {
			switch {
			case len(buf) < o.MaxReadBufferSize:
				// The last read filled the buffer: the peer sends faster
				// than one buffer per read. Grow even when a package
				// straddles the end (with packages that do not divide the
				// buffer size it nearly always does).
				resize(min(2*len(buf), o.MaxReadBufferSize), r, w)
				r, w = 0, w-r
			case r > 0:
				w = copy(buf, buf[r:w])
				r = 0
			case len(buf) >= o.MaxPackageSize:
				return fmt.Errorf("%w: no package ends within %d bytes", ErrMessageTooLarge, o.MaxPackageSize)
			default:
				resize(min(2*len(buf), o.MaxPackageSize), 0, w)
			}
		}
		var n int
		var err error
		if rd != nil && w == 0 {
			// Nothing buffered: hold no buffer while the peer is silent.
			size := len(buf)
			e.bufs.Put(bp)
			bp, n, err = rd.Read(size)
			if bp == nil {
				bp = e.bufs.Get(size)
			}
			buf = (*bp)[:cap(*bp)]
		} else {
			n, err = s.stream.Read(buf[w:])
		}
		if n > 0 {
			filled := w+n == len(buf)
			w += n
			s.bytesIn.Add(uint64(n))
			s.lastRead.Store(e.now())
			var before uint64
			if e.obs != nil {
				before = s.pkgsIn.Load()
			}
			used, derr := s.consume(buf[r:w])
			if e.obs != nil {
				e.obs.OnRead(s, n, int(s.pkgsIn.Load()-before))
			}
			r += used
			if derr != nil {
				return derr
			}
			if r == w {
				r, w = 0, 0
				switch {
				case len(buf) > o.MaxReadBufferSize:
					resize(o.ReadBufferSize, 0, 0) // a large package passed
					small = 0
				case filled && len(buf) < o.MaxReadBufferSize:
					resize(2*len(buf), 0, 0) // the peer sends faster than we read
					small = 0
				case n < len(buf)/8 && len(buf) > o.ReadBufferSize:
					if small++; small >= smallReadsToShrink {
						resize(o.ReadBufferSize, 0, 0)
						small = 0
					}
				default:
					small = 0
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && r < w && !s.closing.Load() {
				return fmt.Errorf("%w: connection closed inside a package (%d bytes pending)", io.ErrUnexpectedEOF, w-r)
			}
			return err
		}
		if s.closing.Load() {
			return nil
		}
	}
}

// consume decodes and dispatches every whole package at the front of data
// and reports how many bytes it used.
func (s *Session[T]) consume(data []byte) (used int, err error) {
	e := s.e
	if e.opts.TaskPool == nil {
		s.cb.Lock()
		defer s.cb.Unlock()
		s.dispatching.Add(1)
		defer s.dispatching.Add(-1)
	}
	corked := false
	// The packages are counted once per call, but for a session's first:
	// FirstPackageTimeout looks for it while it is being handled.
	counted := s.pkgsIn.Load() != 0
	var delivered uint64
	defer func() {
		if delivered > 0 {
			s.pkgsIn.Add(delivered)
		}
		if corked {
			s.w.uncork()
		}
	}()
	for used < len(data) && !s.closing.Load() {
		pkg, n, derr := e.codec.Decode(data[used:], e.opts.MaxPackageSize)
		if derr != nil {
			return used, &OpError{Op: "decode", Session: s.id, Addr: s.transportConn().RemoteAddr(), Err: derr}
		}
		if n == 0 {
			break
		}
		if n < 0 || n > len(data)-used {
			return used, &OpError{Op: "decode", Session: s.id, Addr: s.transportConn().RemoteAddr(),
				Err: fmt.Errorf("%w: codec used %d of %d bytes", ErrBadPackage, n, len(data)-used)}
		}
		used += n
		// With zero-copy replies even a lone package corks if it is large
		// enough that its reply is better sent from the read buffer than
		// copied (a small one costs less to copy than the cork).
		if !corked && (used < len(data) || (s.w.lean && e.hdrEnc != nil && n >= zcMinPayload)) && e.opts.TaskPool == nil {
			s.w.corkOn(data)
			corked = true
		}
		if counted {
			delivered++
		} else {
			s.pkgsIn.Add(1)
			counted = true
		}
		s.handOver(pkg, nil)
	}
	return used, nil
}

// readMessages is the read loop of message and packet sessions. When the
// transport received several messages at once (BufferedReader), the writer
// stays corked until the last of them is dispatched, so that the replies to
// one batch leave in one batch. (With a TaskPool the tasks cork instead:
// the read loop may block in Submit, and must not hold replies meanwhile.)
func (s *Session[T]) readMessages() error {
	e := s.e
	br, _ := s.msg.c.(BufferedReader)
	held := false
	defer func() {
		if held {
			s.w.uncork()
		}
	}()
	for {
		if held && br.Buffered() == 0 {
			s.w.uncork() // the next read may block: send what the batch produced
			held = false
		}
		m, err := s.msg.c.ReadMessage(e.opts.MaxPackageSize)
		if err != nil {
			var pe *PacketError
			if errors.As(err, &pe) && !s.closing.Load() {
				s.report(err)
				continue
			}
			return err
		}
		if !held && br != nil && br.Buffered() > 0 && e.opts.TaskPool == nil {
			s.w.cork()
			held = true
		}
		s.bytesIn.Add(uint64(len(m.Data)))
		s.lastRead.Store(e.now())
		var before uint64
		if e.obs != nil {
			before = s.pkgsIn.Load()
		}
		err = s.consumeMessage(m, held)
		if e.obs != nil {
			e.obs.OnRead(s, len(m.Data), int(s.pkgsIn.Load()-before))
		}
		if err != nil {
			if s.pktConn() == nil {
				return err
			}
			s.report(&PacketError{Addr: m.Addr, Err: err})
		}
		if s.closing.Load() {
			return nil
		}
	}
}

// consumeMessage decodes the packages of one message and dispatches them.
// held says the caller keeps the writer corked already.
func (s *Session[T]) consumeMessage(m Message, held bool) error {
	e := s.e
	if e.opts.TaskPool == nil {
		s.cb.Lock()
		defer s.cb.Unlock()
		s.dispatching.Add(1)
		defer s.dispatching.Add(-1)
	}
	if mc := e.msgCodec; mc != nil {
		pkg, err := mc.DecodeMessage(m)
		if err != nil {
			return &OpError{Op: "decode", Session: s.id, Addr: m.Addr, Err: err}
		}
		s.deliver(pkg, m.Addr)
		return nil
	}
	corked := held
	defer func() {
		if corked && !held {
			s.w.uncork()
		}
	}()
	data := m.Data
	for len(data) > 0 {
		pkg, n, err := e.codec.Decode(data, e.opts.MaxPackageSize)
		if err == nil && (n <= 0 || n > len(data)) {
			err = fmt.Errorf("%w: %d bytes at the end of a message are not a whole package", ErrBadPackage, len(data))
		}
		if err != nil {
			return &OpError{Op: "decode", Session: s.id, Addr: m.Addr, Err: err}
		}
		data = data[n:]
		if !corked && len(data) > 0 && e.opts.TaskPool == nil {
			s.w.cork()
			corked = true
		}
		s.deliver(pkg, m.Addr)
	}
	return nil
}

// deliver hands one package to the handler, inline or through the pool.
// Inline, the read loop corks the session's writes while it dispatches the
// packages of one read; with a pool, the tasks cork them while more of the
// session's packages wait in its inbox (see inbox.pop).
func (s *Session[T]) deliver(pkg T, from net.Addr) {
	s.pkgsIn.Add(1)
	s.handOver(pkg, from)
}

// handOver dispatches pkg, or submits it to the task pool.
func (s *Session[T]) handOver(pkg T, from net.Addr) {
	e := s.e
	if pool := e.opts.TaskPool; pool != nil {
		if e.detacher != nil {
			pkg = e.detacher.Detach(pkg)
		}
		s.pool.inbox.push(pkg, from)
		s.pool.tasks.Add(1)
		if err := pool.Submit(s.poolKey(), s.pool.run); err != nil {
			s.pool.inbox.dropNewest(&s.w)
			s.pool.tasks.Done()
			s.refused(err, from)
		}
		return
	}
	e.dispatch(s, pkg, from)
}

// refused handles a package the pool would not take (full under the Fail
// policy, or closed). A stream or message session cannot skip a package, so
// it ends; a packet session drops the datagram, as the network might have,
// and goes on.
func (s *Session[T]) refused(err error, from net.Addr) {
	if s.pktConn() == nil {
		s.closeWith(&OpError{Op: "dispatch", Session: s.id, Addr: s.transportConn().RemoteAddr(), Err: err}, true)
		return
	}
	s.e.log.Debug("getty: packet dropped: the task pool refused it", "session", s.id, "from", addrString(from), "err", err)
}

// runPooled is the pooled task of a session: it handles the oldest package
// of the inbox.
func (s *Session[T]) runPooled() {
	defer s.pool.tasks.Done()
	pkg, from := s.pool.inbox.pop(&s.w)
	defer s.pool.inbox.uncorkIfDrained(&s.w)
	if s.closing.Load() {
		return
	}
	s.dispatching.Add(1)
	defer s.dispatching.Add(-1)
	if err := s.safeCall(func() error { s.e.dispatch(s, pkg, from); return nil }); err != nil {
		s.closeWith(err, true)
	}
}

func (e *endpoint[T]) dispatch(s *Session[T], pkg T, from net.Addr) {
	if e.obs != nil {
		defer e.observeHandle(s, time.Now())
	}
	if from != nil && e.pktHandler != nil {
		e.pktHandler.OnPacket(s, pkg, from)
		return
	}
	e.handler.OnMessage(s, pkg)
}

// report passes a non-fatal error to OnError, serialized with the other
// callbacks.
func (s *Session[T]) report(err error) {
	if s.e.obs != nil {
		s.e.obs.OnError(s, err)
	}
	if s.e.logEnabled(slog.LevelDebug) {
		s.e.log.Debug("getty: packet dropped", s.logArgs("err", err)...)
	}
	if s.e.opts.TaskPool == nil {
		s.cb.Lock()
		defer s.cb.Unlock()
		s.e.handler.OnError(s, err)
		return
	}
	s.pool.tasks.Add(1)
	if perr := s.e.opts.TaskPool.Submit(s.poolKey(), func() {
		defer s.pool.tasks.Done()
		if s.closing.Load() {
			return
		}
		// A panic ends the session, as it does on the inline path.
		if perr := s.safeCall(func() error { s.e.handler.OnError(s, err); return nil }); perr != nil {
			s.closeWith(perr, true)
		}
	}); perr != nil {
		s.pool.tasks.Done()
	}
}

// readCause turns the error that ended reading into the session's close
// cause, and says whether the close may be graceful.
func (s *Session[T]) readCause(err error) (error, bool) { //nolint:revive // the cause is a value for closeWith(cause, graceful), not a failure
	if s.closing.Load() {
		return err, true // the cause is already set
	}
	if err == nil {
		return io.EOF, true
	}
	if errors.Is(err, io.EOF) {
		return err, true // an orderly close; a transport may wrap io.EOF with details (a WebSocket close code)
	}
	var op *OpError
	if errors.As(err, &op) {
		return err, true
	}
	graceful := errors.Is(err, ErrMessageTooLarge) || errors.Is(err, io.ErrUnexpectedEOF)
	return &OpError{Op: "read", Session: s.id, Addr: s.transportConn().RemoteAddr(), Err: err}, graceful
}
