package compress

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/rawio"
)

var _ getty.BufferedReader = (*Conn)(nil)

// readBufferSize is the read-ahead buffer in front of the stream: small
// frames arrive several per system call; a body larger than it is read
// straight into its own buffer. The buffer is pooled and held only while it
// has unread bytes: a connection whose peer is silent holds none (on Linux,
// TCP and Unix sockets are polled for data before a buffer is taken).
const readBufferSize = 8 << 10

// firstBodyBuffer is the buffer a frame body starts in; it doubles as the
// body arrives, so a peer that announces a large frame and sends little of
// it costs little memory.
const firstBodyBuffer = 64 << 10

// Conn turns a byte stream (TCP, TLS, Unix stream) into a getty.MessageConn
// whose messages travel compressed, one or more per frame. The session
// engine uses it like any message transport: each message holds whole
// packages of the session's codec.
//
// ReadMessage is called from one goroutine at a time and WriteMessages from
// one goroutine at a time; the two may run concurrently with each other, and
// Close and the deadline setters may be called at any time.
//
// Read errors from the network (a deadline, a reset, EOF) are returned as
// they are and leave the frame reader where it was: after a deadline, a
// later ReadMessage resumes the same frame. Errors in the data (ErrCorrupt,
// ErrAlgorithmMismatch, an oversized frame) are final: the stream cannot be
// resynchronised, and every later ReadMessage returns the same error without
// touching the network.
type Conn struct {
	nc    net.Conn
	codec *codec

	rmu        sync.Mutex    // guards the read state below
	raw        *rawio.Reader // nil unless a plain TCP or Unix socket on Linux
	rbuf       *[]byte       // pooled read-ahead bytes; nil when none are unread
	rr, rw     int           // unread bytes are (*rbuf)[rr:rw]
	hdr        [headerLen]byte
	hn         int // header bytes read of the frame in progress
	compressed bool
	bodyLen    int
	body       *[]byte // pooled; nil until a header is complete
	bn         int     // body bytes read
	content    []byte  // the current frame's records
	contentBuf *[]byte // pooled buffer behind content when it was decompressed
	next       int     // offset of the next record in content
	left       int     // records left in content
	rerr       error   // final read error
	closed     bool    // Close ran; guarded by both rmu and wmu

	wmu  sync.Mutex // guards werr and serializes WriteMessages
	werr error

	stats counters
}

// NewConn wraps one stream connection. Each call builds its own compressor
// state; Listener and Dialer share theirs among all their connections,
// which matters for zstd (its encoder and decoder are costly to create).
func NewConn(c net.Conn, cfg *Config) (*Conn, error) {
	k, err := newCodec(cfg)
	if err != nil {
		return nil, err
	}
	return newConn(c, k), nil
}

func newConn(c net.Conn, k *codec) *Conn {
	return &Conn{nc: c, codec: k, raw: rawio.NewReader(c, &k.bufs)}
}

// Algorithm is the algorithm this connection compresses with.
func (c *Conn) Algorithm() Algorithm { return c.codec.cfg.alg }

// NetConn returns the wrapped stream (a *tls.Conn for TLS: use it for the
// connection state). Reading or writing it directly corrupts the stream.
func (c *Conn) NetConn() net.Conn { return c.nc }

// LocalAddr is the local address of the stream.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetReadDeadline sets the stream's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the stream's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// HandshakeContext runs the wrapped stream's handshake (TLS) if it has one;
// the session engine calls it before OnOpen.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if h, ok := c.nc.(getty.Handshaker); ok {
		return h.HandshakeContext(ctx)
	}
	return nil
}

// Close closes the stream, then returns the connection's buffers to their
// pool once no read or write is using them. A ReadMessage or WriteMessages
// blocked meanwhile fails with the stream's error.
func (c *Conn) Close() error {
	err := c.nc.Close()
	c.rmu.Lock()
	c.wmu.Lock()
	if !c.closed {
		c.closed = true
		c.releaseReadLocked()
		c.codec.bufs.Put(c.rbuf)
		c.rbuf = nil
	}
	c.wmu.Unlock()
	c.rmu.Unlock()
	return err
}

// ReadMessage returns the next message. m.Data is valid until the next
// ReadMessage or Close. A frame whose declared size exceeds max (or
// Config.BatchSize if larger, plus a few bytes of record header) is refused
// with an error wrapping getty.ErrMessageTooLarge before any of its body is
// buffered or decompressed. A message may hold several packages (written
// with WriteBytes or WriteBuffers); the codec holds each package to max.
func (c *Conn) ReadMessage(max int) (getty.Message, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rerr != nil {
		return getty.Message{}, c.rerr
	}
	if c.closed {
		return getty.Message{}, net.ErrClosed
	}
	for {
		if c.next < len(c.content) {
			data, err := c.nextRecord()
			if err != nil {
				return getty.Message{}, c.fail(err)
			}
			c.left--
			c.stats.msgsIn.Add(1)
			return getty.Message{Kind: getty.Binary, Data: data}, nil
		}
		c.releaseReadLocked()
		if err := c.readFrame(max); err != nil {
			return getty.Message{}, err
		}
	}
}

// fail records a final read error.
func (c *Conn) fail(err error) error {
	c.rerr = err
	c.releaseReadLocked()
	return err
}

// nextRecord returns the next message of the current frame.
func (c *Conn) nextRecord() ([]byte, error) {
	rest := c.content[c.next:]
	n, k := binary.Uvarint(rest)
	switch {
	case k <= 0:
		return nil, fmt.Errorf("%w: bad record header", ErrCorrupt)
	case n > uint64(len(rest)-k):
		return nil, fmt.Errorf("%w: record of %d bytes overruns its frame (%d left)", ErrCorrupt, n, len(rest)-k)
	}
	end := k + int(n)
	c.next += end
	return rest[k:end:end], nil
}

// readFrame reads one whole frame and decodes its content. Network errors
// leave the partial frame in place (resumable); data errors are final.
func (c *Conn) readFrame(max int) error {
	for c.hn < headerLen {
		n, err := c.read(c.hdr[c.hn:])
		c.hn += n
		if err != nil {
			return c.netErr(err, c.hn > 0)
		}
	}
	if c.body == nil {
		var err error
		c.compressed, c.bodyLen, err = parseHeader(c.hdr[:], c.codec.cfg.alg, max, c.codec.frameCap(max), c.stats.framesIn.Load() == 0)
		if err != nil {
			return c.fail(err)
		}
		size := min(c.bodyLen, firstBodyBuffer)
		c.body = c.codec.bufs.Get(size)
		*c.body = (*c.body)[:size]
		c.bn = 0
	}
	for c.bn < c.bodyLen {
		if c.bn == len(*c.body) {
			c.growBody()
		}
		n, err := c.read((*c.body)[c.bn:])
		c.bn += n
		if err != nil {
			return c.netErr(err, true)
		}
	}
	c.hn = 0
	if err := c.decodeBody(c.compressed, *c.body, max); err != nil || !c.compressed {
		return err // a raw frame's content is its body: kept until released
	}
	c.codec.bufs.Put(c.body)
	c.body = nil
	return nil
}

// decodeBody decodes the body of a whole frame and makes its records
// current. A raw frame's content is body itself; a compressed one is
// decompressed into a pooled buffer. Errors are final.
func (c *Conn) decodeBody(compressed bool, body []byte, max int) error {
	c.stats.framesIn.Add(1)
	c.stats.wireIn.Add(uint64(headerLen + len(body)))
	if !compressed {
		if len(body) == 0 {
			return c.fail(fmt.Errorf("%w: empty frame", ErrCorrupt))
		}
		c.stats.rawIn.Add(uint64(len(body)))
		return c.setContent(body)
	}
	size, k := binary.Uvarint(body)
	switch {
	case k <= 0:
		return c.fail(fmt.Errorf("%w: bad content length", ErrCorrupt))
	case size > uint64(c.codec.frameCap(max)):
		return c.fail(fmt.Errorf("%w: frame declares %d decompressed bytes, the limit is %d", getty.ErrMessageTooLarge, size, c.codec.frameCap(max)))
	case size == 0:
		return c.fail(fmt.Errorf("%w: empty compressed frame", ErrCorrupt))
	}
	c.contentBuf = c.codec.bufs.Get(int(size))
	content := (*c.contentBuf)[:size]
	if err := c.codec.decompress(content, body[k:], max); err != nil {
		return c.fail(err)
	}
	c.stats.rawIn.Add(size)
	return c.setContent(content)
}

// growBody doubles the body buffer (up to the frame's size), keeping what
// was read: a body takes memory as its bytes arrive, not as its header
// announces them.
func (c *Conn) growBody() {
	size := min(2*len(*c.body), c.bodyLen)
	nb := c.codec.bufs.Get(size)
	*nb = (*nb)[:size]
	copy(*nb, (*c.body)[:c.bn])
	c.codec.bufs.Put(c.body)
	c.body = nb
}

// setContent checks the records of a frame's content (before any of them
// is delivered) and makes it current.
func (c *Conn) setContent(content []byte) error {
	n := 0
	for rest := content; len(rest) > 0; n++ {
		l, k := binary.Uvarint(rest)
		switch {
		case n == maxRecords:
			return c.fail(fmt.Errorf("%w: more than %d messages in a frame", ErrCorrupt, maxRecords))
		case k <= 0:
			return c.fail(fmt.Errorf("%w: bad record header", ErrCorrupt))
		case l > uint64(len(rest)-k):
			return c.fail(fmt.Errorf("%w: record of %d bytes overruns its frame (%d left)", ErrCorrupt, l, len(rest)-k))
		}
		rest = rest[k+int(l):]
	}
	c.content, c.next, c.left = content, 0, n
	return nil
}

// Buffered reports how many messages ReadMessage returns next without
// reading from the network: those left in the frame last read. The session
// holds back the replies its handler writes until they are dispatched, so
// that the answers to one frame leave in one frame (getty.BufferedReader).
func (c *Conn) Buffered() int {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.left
}

// read reads into p from the read-ahead buffer or, when that is empty, from
// the stream: straight into p when p is large, else into a fresh pooled
// read-ahead buffer. It returns data without an error when it has data (an
// error of the stream recurs on the next call).
func (c *Conn) read(p []byte) (int, error) {
	if c.rbuf != nil {
		n := copy(p, (*c.rbuf)[c.rr:c.rw])
		c.consumed(n)
		return n, nil
	}
	if len(p) >= readBufferSize {
		return c.nc.Read(p)
	}
	var (
		bp  *[]byte
		n   int
		err error
	)
	if c.raw != nil {
		bp, n, err = c.raw.Read(readBufferSize)
	} else {
		bp = c.codec.bufs.Get(readBufferSize)
		n, err = c.nc.Read((*bp)[:cap(*bp)])
	}
	if n <= 0 {
		c.codec.bufs.Put(bp)
		return 0, err
	}
	c.rbuf, c.rr, c.rw = bp, 0, n
	k := copy(p, (*bp)[:n])
	c.consumed(k)
	return k, nil
}

// consumed marks n read-ahead bytes read and lets the buffer go once empty.
func (c *Conn) consumed(n int) {
	c.rr += n
	if c.rr == c.rw {
		c.codec.bufs.Put(c.rbuf)
		c.rbuf, c.rr, c.rw = nil, 0, 0
	}
}

// netErr turns a stream error met while reading a frame into the error
// ReadMessage returns. EOF inside a frame is final; anything else (a
// deadline above all) leaves the reader able to resume.
func (c *Conn) netErr(err error, inFrame bool) error {
	if errors.Is(err, io.EOF) && inFrame {
		return c.fail(fmt.Errorf("%w: connection closed inside a frame", io.ErrUnexpectedEOF))
	}
	return err
}

// releaseReadLocked returns the current frame's buffers to the pool, unless
// a frame is half read (its body is kept to resume it).
func (c *Conn) releaseReadLocked() {
	c.content, c.next, c.left = nil, 0, 0
	if c.contentBuf != nil {
		c.codec.bufs.Put(c.contentBuf)
		c.contentBuf = nil
	}
	if c.body != nil && (c.hn == 0 || c.rerr != nil || c.closed) {
		c.codec.bufs.Put(c.body)
		c.body = nil
	}
}

// WriteMessages sends the messages, in order, with one write to the stream:
// consecutive messages are packed into frames of up to Config.BatchSize
// bytes, and each frame's content is compressed when it reaches
// Config.Threshold and compression makes it smaller. Message kinds and
// addresses are not carried (a stream has neither). A write error is final.
func (c *Conn) WriteMessages(ms []getty.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	if c.closed {
		return net.ErrClosed
	}
	if len(ms) == 0 {
		return nil
	}
	size := 0
	for _, m := range ms {
		size += headerLen + recordSlack + len(m.Data)
	}
	outp := c.codec.bufs.Get(size)
	out, err := c.appendFrames((*outp)[:0], ms)
	if err == nil {
		_, err = c.nc.Write(out)
		if err == nil {
			c.stats.wireOut.Add(uint64(len(out)))
		}
	}
	*outp = out
	c.codec.bufs.Put(outp)
	if err != nil {
		c.werr = err
	}
	return err
}

// appendFrames appends the frames carrying ms to out.
func (c *Conn) appendFrames(out []byte, ms []getty.Message) ([]byte, error) {
	k := c.codec
	for i := 0; i < len(ms); {
		start := len(out)
		out = append(out, make([]byte, headerLen)...)
		for j := i; i < len(ms); i++ {
			n := len(ms[i].Data)
			if i > j && (i-j == maxRecords || len(out)-start-headerLen+uvarintLen(uint64(n))+n > k.cfg.batch) {
				break
			}
			out = binary.AppendUvarint(out, uint64(n))
			out = append(out, ms[i].Data...)
			c.stats.msgsOut.Add(1)
		}
		content := out[start+headerLen:]
		if len(content) > maxBody {
			return out, fmt.Errorf("%w: a frame of %d bytes does not fit a 32-bit length", getty.ErrMessageTooLarge, len(content))
		}
		c.stats.rawOut.Add(uint64(len(content)))
		c.stats.framesOut.Add(1)
		compressed := false
		if len(content) >= k.cfg.threshold {
			zp := k.bufs.Get(maxCompressedLen(len(content)))
			z, err := k.compress((*zp)[:0], content)
			if err == nil && uvarintLen(uint64(len(content)))+len(z) < len(content) {
				// The compressed body is shorter than the content it
				// replaces, so it never runs past what out already holds.
				out = binary.AppendUvarint(out[:start+headerLen], uint64(len(content)))
				out = append(out, z...)
				compressed = true
			}
			*zp = z
			k.bufs.Put(zp)
			if err != nil {
				return out, err
			}
		}
		putHeader(out[start:], k.cfg.alg, compressed, len(out)-start-headerLen)
	}
	return out, nil
}

// Stats is a snapshot of a connection's counters. Wire bytes include frame
// headers; raw bytes are the frame contents (messages and their record
// headers) before compression.
type Stats struct {
	WireIn, WireOut     uint64 // bytes read from and written to the stream
	RawIn, RawOut       uint64 // frame content bytes, decompressed
	FramesIn, FramesOut uint64
	MessagesIn          uint64
	MessagesOut         uint64
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	s := &c.stats
	return Stats{
		WireIn: s.wireIn.Load(), WireOut: s.wireOut.Load(),
		RawIn: s.rawIn.Load(), RawOut: s.rawOut.Load(),
		FramesIn: s.framesIn.Load(), FramesOut: s.framesOut.Load(),
		MessagesIn: s.msgsIn.Load(), MessagesOut: s.msgsOut.Load(),
	}
}

type counters struct {
	wireIn, wireOut     atomic.Uint64
	rawIn, rawOut       atomic.Uint64
	framesIn, framesOut atomic.Uint64
	msgsIn, msgsOut     atomic.Uint64
}
