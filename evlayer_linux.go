package getty

// evWrap prepares c for an event loop. A plain stream is taken over as an
// evConn; a FramedConn keeps framing, over an evConn made from its inner
// stream. It returns the connection the session runs on and the evConn
// under it. On failure c is left open for the caller to close.
func evWrap(c Conn, spare *spareFD) (Conn, *evConn, error) {
	fc, ok := c.(FramedConn)
	if !ok {
		ec, err := newEvConn(c, spare)
		if err != nil {
			return nil, nil, err
		}
		return ec, ec, nil
	}
	ec, err := newEvConn(fc.NetConn(), spare)
	if err != nil {
		return nil, nil, err
	}
	fc.SetNetConn(ec)
	return fc, ec, nil
}

// evFramed returns the evConn under a FramedConn session, or nil.
func evFramed(c MessageConn) *evConn {
	fc, ok := c.(FramedConn)
	if !ok {
		return nil
	}
	ec, _ := fc.NetConn().(*evConn)
	return ec
}

// evReadFrames is evRead for a FramedConn: it reads the socket until it is
// drained, has the connection decode each whole frame, and dispatches the
// frame's messages as the message read loop does. Only the start of a
// partial frame outlives the call, in the connection's tail; the connection has checked
// the frame's declared size against its limit before the tail grows past
// the frame header.
func (s *Session[T]) evReadFrames(ec *evConn, buf []byte, hup bool) (bool, error) {
	e := s.e
	fc := s.msg.c.(FramedConn)
	for {
		n, end, err := s.evReadOnce(ec, buf, "frame")
		if n == 0 {
			return end, err
		}
		if s.closing.Load() {
			ec.dropTail(&e.bufs)
			return false, nil // the close that set it stops the loop's reading
		}
		data := ec.withTail(&e.bufs, buf[:n])
		used, panicked, derr := s.evDecodeFrames(fc, data)
		if panicked {
			return true, nil // the panic closed the session
		}
		if derr != nil {
			return true, derr
		}
		ec.keepTail(&e.bufs, data[used:])
		if s.closing.Load() {
			return false, nil
		}
		if n < len(buf) && !hup {
			return false, nil // drained: the next arrival raises a new edge
		}
	}
}

// evDecodeFrames decodes the whole frames at the front of data and
// dispatches their messages, with the writer corked until the last one (so
// that the replies to one read leave in one frame, as with
// BufferedReader). A panicking callback closes its session, never the loop.
func (s *Session[T]) evDecodeFrames(fc FramedConn, data []byte) (used int, panicked bool, err error) {
	e := s.e
	corked := false
	defer func() {
		if r := recover(); r != nil {
			s.closeWith(s.panicError(r), true)
			panicked = true
		}
		if corked {
			s.w.uncork()
		}
	}()
	for used < len(data) && !s.closing.Load() {
		n, derr := fc.DecodeFrame(data[used:], e.opts.MaxPackageSize)
		if derr != nil {
			return used, false, derr
		}
		if n == 0 {
			break
		}
		used += n
		for !s.closing.Load() {
			m, ok := fc.NextMessage()
			if !ok {
				break
			}
			if !corked && e.opts.TaskPool == nil {
				s.w.cork()
				corked = true
			}
			s.bytesIn.Add(uint64(len(m.Data)))
			s.lastRead.Store(e.now())
			var before uint64
			if e.obs != nil {
				before = s.pkgsIn.Load()
			}
			err := s.consumeMessage(m, corked)
			if e.obs != nil {
				e.obs.OnRead(s, len(m.Data), int(s.pkgsIn.Load()-before))
			}
			if err != nil {
				return used, false, err
			}
		}
	}
	return used, false, nil
}

// tryFrames is the writer's non-blocking attempt for a FramedConn on an
// event loop: it encodes the batch in buf (messages ending at spans) into
// frames and offers them to the socket. If the socket takes them all it
// returns len(*buf). Otherwise it puts the frames' unwritten rest in buf
// and returns 0, and the writer hands buf to a background flusher that
// writes it to the inner stream (sink), where a full socket may block.
func (w *writer[T]) tryFrames(buf *[]byte, spans []span) (int, error) {
	fc := w.sess().msg.c.(FramedConn)
	m := w.m
	from := 0
	for _, sp := range spans {
		m.msgs = append(m.msgs, Message{Kind: sp.kind, Addr: sp.addr, Data: (*buf)[from:sp.end]})
		from = sp.end
	}
	bufs := &w.sess().e.bufs
	wp := bufs.Get(len(*buf) + 16*len(spans) + 64)
	out, err := fc.AppendFrames((*wp)[:0], m.msgs)
	clear(m.msgs)
	m.msgs = m.msgs[:0]
	*wp = out
	defer bufs.Put(wp)
	if err != nil {
		return 0, err
	}
	n, err := w.sess().evConn().tryOne(out)
	if err != nil {
		return 0, err
	}
	if n == len(out) {
		return len(*buf), nil
	}
	raw := len(*buf)
	*buf = append((*buf)[:0], out[n:]...)
	// The session counts message bytes: the flusher counts the frames'
	// rest as it writes it, so count what remains of the batch now.
	if raw > len(*buf) {
		w.sess().bytesOut.Add(uint64(raw - len(*buf)))
	}
	return 0, nil
}
