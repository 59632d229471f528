package ws

import (
	crand "crypto/rand"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/bufpool"
)

// Defaults used for zero-valued settings.
const (
	DefaultReadBufferSize   = 4 << 10
	DefaultCloseTimeout     = 2 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
)

// bufs holds message and write buffers for every connection of the
// process: a cache, with no state carried between uses.
var bufs bufpool.Pool

// Conn is one WebSocket connection, as a getty.MessageConn: ReadMessage
// returns whole messages (text or binary) and WriteMessages sends each
// message as one frame, all of a batch with one write system call.
//
// Conn also implements getty.Pinger (the session's keepalive pings it when
// read-idle) and getty.CauseCloser (the session's cause becomes the close
// frame's status code).
//
// Concurrency: ReadMessage must be called from one goroutine at a time;
// WriteMessages, Ping and Close are safe to call from any goroutine.
type Conn struct {
	nc      net.Conn
	client  bool // masks what it sends; refuses masked frames
	proto   string
	req     *http.Request // server: the upgrade request
	resp    http.Header   // client: the handshake response header
	deflate deflateState
	comp    Compression
	closeTO time.Duration

	// Read side: touched only by the reading goroutine (and by Close once
	// no read is in progress).
	rbuf    []byte
	r, w    int     // rbuf[r:w] holds bytes not yet parsed
	msg     *[]byte // pooled buffer handed out by the last ReadMessage
	rerr    error   // sticky: the first read error ends reading for good
	src     inflateSource
	window  []byte // the peer's last 32 KiB under context takeover
	pending uint64 // payload bytes of the current frame not consumed yet

	// Read outcomes that Close looks at, possibly from another goroutine.
	reading atomic.Bool
	midRead atomic.Bool                // an error hit inside a frame: the stream position is lost
	dropped atomic.Bool                // reading ended without a close frame (EOF, reset)
	peer    atomic.Pointer[CloseError] // the peer's close frame

	lastPong atomic.Int64 // UnixNano of the last control frame heard

	// Write side, guarded by wmu.
	wmu       sync.Mutex
	rng       *rand.ChaCha8 // masking keys (client)
	aw        appendWriter  // compressor output
	werr      error
	closeSent bool

	aborted atomic.Bool // a past write deadline was set: no closing handshake
	closed  atomic.Bool
}

func newConn(nc net.Conn, client bool, readBuf int, buffered []byte) *Conn {
	if readBuf < maxHeaderSize+maxControlPayload {
		readBuf = DefaultReadBufferSize
	}
	c := &Conn{nc: nc, client: client, closeTO: DefaultCloseTimeout}
	// Room for a frame header on top: a message of readBuf bytes arrives
	// whole in one read.
	c.rbuf = make([]byte, max(readBuf+maxHeaderSize, len(buffered)))
	c.w = copy(c.rbuf, buffered)
	if client {
		var seed [32]byte
		crand.Read(seed[:]) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
		c.rng = rand.NewChaCha8(seed)
	}
	return c
}

// Subprotocol is the negotiated subprotocol, or "".
func (c *Conn) Subprotocol() string { return c.proto }

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.deflate.on }

// Request returns the HTTP upgrade request of a server-side connection (its
// URL, headers and cookies; the body is gone), or nil on the client side.
func (c *Conn) Request() *http.Request { return c.req }

// ResponseHeader returns the handshake response headers of a client-side
// connection, or nil on the server side.
func (c *Conn) ResponseHeader() http.Header { return c.resp }

// NetConn returns the underlying connection (TCP or TLS). Reading or
// writing it directly corrupts the WebSocket stream.
func (c *Conn) NetConn() net.Conn { return c.nc }

// LocalAddr is the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr is the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetReadDeadline sets the deadline of ReadMessage.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline of writes. A deadline in the past
// aborts: a later Close skips the closing handshake.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if !t.IsZero() && !t.After(time.Now()) {
		c.aborted.Store(true)
	}
	return c.nc.SetWriteDeadline(t)
}

// LastPong reports when a pong (or any control frame) last arrived.
func (c *Conn) LastPong() time.Time {
	if n := c.lastPong.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Ping sends a ping frame. The peer's pong shows in LastPong.
func (c *Conn) Ping() error {
	return c.writeControl(opPing, nil)
}

// WriteMessages sends each message as one unfragmented frame (compressed
// when permessage-deflate is on and the message reaches the threshold),
// every frame of the batch in one write.
func (c *Conn) WriteMessages(ms []getty.Message) error {
	size := 0
	for _, m := range ms {
		size += len(m.Data) + maxHeaderSize
	}
	out := bufs.Get(size)
	defer bufs.Put(out)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writableLocked(); err != nil {
		return err
	}
	for _, m := range ms {
		op := byte(opBinary)
		if m.Kind == getty.Text {
			op = opText
		}
		*out = c.appendFrameLocked(*out, op, m.Data)
	}
	return c.writeLocked(*out)
}

func (c *Conn) writableLocked() error {
	if c.werr != nil {
		return c.werr
	}
	if c.closeSent {
		return ErrClosed
	}
	return nil
}

func (c *Conn) writeLocked(b []byte) error {
	if _, err := c.nc.Write(b); err != nil {
		c.werr = err
		return err
	}
	return nil
}

// appendFrameLocked appends one whole frame carrying p.
func (c *Conn) appendFrameLocked(b []byte, op byte, p []byte) []byte {
	var rsv byte
	if c.deflate.on && !isControl(op) && len(p) >= c.comp.Threshold {
		start := len(b)
		b = compress(&c.aw, append(b, make([]byte, maxHeaderSize)...), p, c.comp.Level)
		payload := b[start+maxHeaderSize:]
		hs := headerSize(len(payload), c.client)
		n := len(payload)
		copy(b[start+hs:], payload)
		b = b[:start+hs+n]
		var mask *[4]byte
		if c.client {
			mask = c.newMask()
		}
		appendHeader(b[start:start], true, rsv1Bit, op, n, mask)
		if mask != nil {
			cipher(b[start+hs:], *mask, 0)
		}
		return b
	}
	if !c.client {
		b = appendHeader(b, true, rsv, op, len(p), nil)
		return append(b, p...)
	}
	mask := c.newMask()
	b = appendHeader(b, true, rsv, op, len(p), mask)
	start := len(b)
	b = append(b, p...)
	cipher(b[start:], *mask, 0)
	return b
}

func (c *Conn) newMask() *[4]byte {
	var m [4]byte
	v := c.rng.Uint64()
	m[0], m[1], m[2], m[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	return &m
}

func (c *Conn) writeControl(op byte, p []byte) error {
	var frame [maxHeaderSize + maxControlPayload]byte
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writableLocked(); err != nil {
		return err
	}
	if op == opClose {
		c.closeSent = true
	}
	return c.writeLocked(c.appendFrameLocked(frame[:0], op, p))
}

// Close sends a normal-closure close frame (status 1000), waits (within
// the close timeout) for the peer's, and closes the connection.
func (c *Conn) Close() error { return c.CloseWithCause(nil) }

// CloseWithCause closes the connection with a close frame whose status
// tells the cause: 1000 for a local close (getty.ErrSessionClosed,
// ErrClientClosed, nil), 1001 for server shutdown and read timeouts, 1009
// for getty.ErrMessageTooLarge, 1007 for codec errors, the detected status
// for a peer that broke the protocol, the peer's own status when it closed
// first, and 1011 otherwise. No close frame is sent after a write failed or
// was aborted, or once the connection dropped. The closing handshake is
// bounded by the close timeout. It returns nil the first time and ErrClosed
// afterwards.
func (c *Conn) CloseWithCause(cause error) error {
	if c.closed.Swap(true) {
		return ErrClosed
	}
	defer c.release()
	code, reason, send := c.closeStatus(cause)
	if !send || c.aborted.Load() {
		return c.nc.Close()
	}
	deadline := time.Now().Add(c.closeTO)
	c.nc.SetDeadline(deadline) //nolint:errcheck // a failed write below reports the same
	var p [maxControlPayload]byte
	if err := c.writeControl(opClose, appendClosePayload(p[:0], code, reason)); err != nil {
		return errors.Join(err, c.nc.Close())
	}
	if !c.reading.Load() && c.closeTO > 0 && !errors.Is(cause, getty.ErrReadTimeout) {
		if c.midRead.Load() || c.pending > maxSkip {
			c.lingerClose()
		} else {
			c.awaitClose()
		}
	}
	return c.nc.Close()
}

// closeStatus picks the close frame for cause, and whether to send one.
func (c *Conn) closeStatus(cause error) (StatusCode, string, bool) {
	if peer := c.peer.Load(); peer != nil {
		// Answer the peer's close with its own status.
		code := peer.Code
		if code == StatusNoStatus {
			code = StatusNormalClosure
		}
		return code, "", true
	}
	if c.dropped.Load() {
		return 0, "", false // the connection dropped, or broke mid-frame
	}
	var ce *CloseError
	switch {
	case cause == nil, errors.Is(cause, getty.ErrSessionClosed), errors.Is(cause, getty.ErrClientClosed):
		return StatusNormalClosure, "", true
	case errors.As(cause, &ce):
		return ce.Code, ce.Reason, true
	case errors.Is(cause, getty.ErrServerClosed):
		return StatusGoingAway, "server shutting down", true
	case errors.Is(cause, getty.ErrReadTimeout):
		return StatusGoingAway, "read timeout", true
	case errors.Is(cause, getty.ErrWriteTimeout):
		return 0, "", false
	case errors.Is(cause, getty.ErrMessageTooLarge):
		return StatusMessageTooBig, "message too big", true
	case errors.Is(cause, getty.ErrBadPackage):
		return StatusInvalidPayload, "cannot decode message", true
	case errors.Is(cause, getty.ErrRejected):
		return StatusPolicyViolation, "rejected", true
	}
	var op *getty.OpError
	if errors.As(cause, &op) && op.Op == "write" {
		return 0, "", false
	}
	return StatusInternalError, "", true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// maxSkip is the most of a refused frame's payload that the closing
// handshake reads past to find the peer's close frame; beyond it, the
// connection lingers instead (see lingerClose).
const maxSkip = 16 << 20

// lingerClose ends a connection whose incoming stream can no longer be
// parsed (a malformed frame): it half-closes the sending side, so that the
// peer sees the close frame and then the end of the stream, and discards
// what arrives until the peer closes too or the deadline passes. Closing at
// once would reset the connection over unread data, and the peer could lose
// the close frame.
func (c *Conn) lingerClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite() //nolint:errcheck // best effort: the close frame is out already
	}
	var b [4096]byte
	for {
		if _, err := c.nc.Read(b[:]); err != nil {
			return
		}
	}
}

// awaitClose reads (discarding data) until the peer's close frame, or the
// deadline. A client waits for the server to close TCP first (RFC 6455
// 7.1.1).
func (c *Conn) awaitClose() {
	if c.pending > 0 {
		// The rest of a frame refused after its header (too big, say).
		if err := c.skip(c.pending); err != nil {
			return
		}
		c.pending = 0
	}
	for {
		if c.peer.Load() != nil {
			if c.client {
				var b [512]byte
				for {
					if _, err := c.nc.Read(b[:]); err != nil {
						return
					}
				}
			}
			return
		}
		h, err := c.nextHeader()
		if err != nil {
			return
		}
		if isControl(h.op) {
			if err := c.control(h); err != nil && c.peer.Load() == nil {
				return
			}
			continue
		}
		if err := c.skip(h.length); err != nil {
			return
		}
	}
}

// release returns pooled buffers. It runs once, on close.
func (c *Conn) release() {
	if !c.reading.Load() && c.msg != nil {
		bufs.Put(c.msg)
		c.msg = nil
	}
}

var _ interface {
	getty.MessageConn
	getty.Pinger
	getty.CauseCloser
} = (*Conn)(nil)
