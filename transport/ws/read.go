package ws

import (
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/gettynet/getty"
	gws "github.com/gobwas/ws"
)

// windowSize is the LZ77 window of permessage-deflate.
const windowSize = 32 << 10

func cipher(b []byte, mask [4]byte, offset int) { gws.Cipher(b, mask, offset) }

// ReadMessage returns the next whole message. Its Data is valid until the
// next call. Control frames are handled on the way: pings are answered,
// pongs recorded, and a close frame ends reading with a *CloseError (wrapping
// io.EOF for an orderly close).
//
// A message whose size (compressed on the wire, or inflated) would exceed
// max is refused with a *CloseError (status 1009) wrapping
// getty.ErrMessageTooLarge, before more than what was read is buffered;
// buffers grow with the bytes that actually arrive, not with what a header
// announces. Any error is final: later calls return it again at once.
func (c *Conn) ReadMessage(max int) (getty.Message, error) {
	if c.rerr != nil {
		return getty.Message{}, c.rerr
	}
	c.reading.Store(true)
	defer c.reading.Store(false)
	if c.msg != nil {
		bufs.Put(c.msg)
		c.msg = nil
	}
	m, err := c.readMessage(max)
	if err != nil {
		if ce := (*CloseError)(nil); errors.As(err, &ce) && !errors.Is(err, io.EOF) {
			// A violation this side detected, or a peer's error status: as
			// an *OpError the session closes gracefully, which lets the
			// close frame go out.
			err = &getty.OpError{Op: "read", Addr: c.nc.RemoteAddr(), Err: err}
		}
		var ce *CloseError
		if !errors.As(err, &ce) && !isTimeout(err) {
			c.dropped.Store(true)
		}
		c.rerr = err
		return getty.Message{}, err
	}
	return m, nil
}

// msgState tracks the data frames of the message being read.
type msgState struct {
	kind       getty.MessageKind
	started    bool
	compressed bool
	total      int // payload bytes so far
	// utf8 checks an uncompressed text message as its bytes arrive, so
	// that invalid UTF-8 fails fast (before the rest of the message).
	utf8 utf8Validator
}

// next checks a data frame against the message so far.
func (st *msgState) next(h header) error {
	switch {
	case h.op == opContinuation && !st.started:
		return protocolError("continuation frame without a message")
	case h.op != opContinuation && st.started:
		return protocolError("new message inside a fragmented one")
	case h.op != opContinuation:
		st.started = true
		st.compressed = h.rsv&rsv1Bit != 0
		if h.op == opText {
			st.kind = getty.Text
		}
	}
	return nil
}

func (c *Conn) readMessage(max int) (getty.Message, error) {
	var st msgState
	for {
		h, err := c.nextHeader()
		if err != nil {
			return getty.Message{}, err
		}
		if isControl(h.op) {
			if err := c.control(h); err != nil {
				return getty.Message{}, err
			}
			continue
		}
		if err := st.next(h); err != nil {
			return getty.Message{}, err
		}
		if h.length > uint64(max-st.total) {
			return getty.Message{}, tooBig(max)
		}
		n := int(h.length)
		// Fast path: a whole small message already in the read buffer is
		// unmasked in place and handed out without a copy.
		if h.fin && st.total == 0 && !st.compressed && c.w-c.r >= n {
			p := c.rbuf[c.r : c.r+n]
			c.r += n
			c.pending = 0
			if h.masked {
				cipher(p, h.mask, 0)
			}
			if st.kind == getty.Text && !utf8.Valid(p) {
				return getty.Message{}, invalidUTF8()
			}
			return getty.Message{Kind: st.kind, Data: p}, nil
		}
		if err := c.readPayload(h, &st); err != nil {
			return getty.Message{}, err
		}
		st.total += n
		if h.fin {
			return c.finishMessage(st, max)
		}
	}
}

// finishMessage inflates and checks a message gathered in c.msg.
func (c *Conn) finishMessage(st msgState, max int) (getty.Message, error) {
	if c.msg == nil { // an empty fragmented message
		c.msg = bufs.Get(0)
	}
	if st.compressed {
		if err := c.inflateMsg(max); err != nil {
			return getty.Message{}, err
		}
	}
	data := *c.msg
	if st.kind == getty.Text {
		// Uncompressed text was checked as it arrived; only a rune cut
		// short at the end remains to be found.
		if st.compressed && !utf8.Valid(data) || !st.compressed && !st.utf8.complete() {
			return getty.Message{}, invalidUTF8()
		}
	}
	return getty.Message{Kind: st.kind, Data: data}, nil
}

func tooBig(max int) *CloseError {
	return &CloseError{Code: StatusMessageTooBig, Reason: "message too big", Local: true,
		Err: fmt.Errorf("%w: message exceeds %d bytes", getty.ErrMessageTooLarge, max)}
}

func invalidUTF8() *CloseError {
	return &CloseError{Code: StatusInvalidPayload, Reason: "invalid UTF-8", Local: true, Err: ErrInvalidUTF8}
}

// nextHeader reads and checks the next frame header.
func (c *Conn) nextHeader() (header, error) {
	for {
		h, n, err := parseHeader(c.rbuf[c.r:c.w])
		if err != nil {
			c.midRead.Store(true) // garbage: no frame boundary to find again
			return h, err
		}
		if n > 0 {
			c.r += n
			c.pending = h.length
			return h, c.checkHeader(h)
		}
		if err := c.fill(); err != nil {
			return h, err
		}
	}
}

// checkHeader applies the rules that depend on role and extensions.
func (c *Conn) checkHeader(h header) error {
	switch {
	case h.masked && c.client:
		return protocolError("masked frame from a server")
	case !h.masked && !c.client:
		return protocolError("unmasked frame from a client")
	case h.rsv&rsv23 != 0:
		return protocolError("reserved bits set")
	case h.rsv&rsv1Bit != 0 && (!c.deflate.on || isControl(h.op) || h.op == opContinuation):
		return protocolError("unexpected compression bit")
	}
	return nil
}

// fill reads more bytes into the read buffer, first moving what is left to
// its front.
func (c *Conn) fill() error {
	if c.r > 0 {
		c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
		c.r = 0
	}
	if c.w == len(c.rbuf) {
		return protocolError("frame header larger than the read buffer") // cannot happen: rbuf >= 139 bytes
	}
	n, err := c.nc.Read(c.rbuf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return c.netError(err)
}

// netError turns an I/O error into the read error: an EOF inside a frame is
// unexpected.
func (c *Conn) netError(err error) error {
	if errors.Is(err, io.EOF) && c.r < c.w {
		c.midRead.Store(true)
		return io.ErrUnexpectedEOF
	}
	if c.r < c.w {
		c.midRead.Store(true)
	}
	return err
}

// readPayload appends the frame's payload to the message buffer, reading
// what the read buffer lacks straight from the connection, and checks the
// UTF-8 of uncompressed text as each piece arrives.
func (c *Conn) readPayload(h header, st *msgState) error {
	n, off := int(h.length), st.total
	checkText := st.kind == getty.Text && !st.compressed
	if c.msg == nil {
		c.msg = bufs.Get(min(n, 64<<10))
	}
	done := 0
	for done < n {
		if len(*c.msg) == cap(*c.msg) {
			nb := bufs.Get(min(2*cap(*c.msg), off+n))
			*nb = append(*nb, *c.msg...)
			bufs.Put(c.msg)
			c.msg = nb
		}
		b := *c.msg
		room := b[len(b):min(cap(b), len(b)+n-done)]
		var k int
		if c.r < c.w {
			k = copy(room, c.rbuf[c.r:c.w])
			c.r += k
		} else {
			var err error
			k, err = c.nc.Read(room)
			if k == 0 && err != nil {
				c.midRead.Store(true)
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		if h.masked {
			cipher(room[:k], h.mask, done)
		}
		*c.msg = b[:len(b)+k]
		done += k
		c.pending -= uint64(k)
		if checkText && !st.utf8.feed(room[:k]) {
			if c.pending > 0 {
				// Failing fast inside a frame: the peer may never send
				// the rest, so the closing handshake must not wait for it.
				c.midRead.Store(true)
			}
			return invalidUTF8()
		}
	}
	return nil
}

// skip discards a payload of n bytes.
func (c *Conn) skip(n uint64) error {
	for n > 0 {
		if c.r == c.w {
			c.r, c.w = 0, 0
			k, err := c.nc.Read(c.rbuf)
			if k == 0 {
				if err == nil {
					err = io.ErrNoProgress
				}
				return err
			}
			c.w = k
		}
		k := min(n, uint64(c.w-c.r))
		c.r += int(k)
		n -= k
	}
	return nil
}

// control handles one control frame.
func (c *Conn) control(h header) error {
	for c.w-c.r < int(h.length) {
		if err := c.fill(); err != nil {
			return err
		}
	}
	p := c.rbuf[c.r : c.r+int(h.length)]
	c.r += int(h.length)
	c.pending = 0
	if h.masked {
		cipher(p, h.mask, 0)
	}
	c.lastPong.Store(time.Now().UnixNano())
	switch h.op {
	case opPing:
		if err := c.writeControl(opPong, p); err != nil && !errors.Is(err, ErrClosed) {
			return err
		}
	case opClose:
		code, reason, cerr := parseClose(p)
		if cerr != nil {
			return cerr
		}
		peer := peerClose(code, reason)
		c.peer.Store(peer)
		return peer
	}
	return nil
}

// inflateMsg replaces the compressed message buffer by its inflated form.
func (c *Conn) inflateMsg(max int) error {
	c.src.reset(*c.msg)
	out, err := inflate(&c.src, c.window, max)
	if err != nil {
		return err
	}
	bufs.Put(c.msg)
	c.msg = out
	if c.deflate.readTakeover {
		if o := *out; len(o) >= windowSize {
			c.window = append(c.window[:0], o[len(o)-windowSize:]...)
		} else {
			c.window = append(c.window, o...)
			if len(c.window) > windowSize {
				c.window = append(c.window[:0], c.window[len(c.window)-windowSize:]...)
			}
		}
	}
	return nil
}
