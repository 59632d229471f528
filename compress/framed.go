package compress

import (
	"net"

	"github.com/gettynet/getty"
)

// Conn is a getty.FramedConn: on getty.EngineEventLoop the event loop reads
// the socket and pushes the bytes to DecodeFrame, and encodes writes with
// AppendFrames; the wire format, the limits and the errors are those of
// ReadMessage and WriteMessages.
var _ getty.FramedConn = (*Conn)(nil)

// SetNetConn replaces the wrapped stream with nc, which must carry the same
// bytes (the event-loop engine's handle on the socket). It is meant for
// the engine, before the session starts: the connection no longer reads
// the stream itself (DecodeFrame takes its bytes).
func (c *Conn) SetNetConn(nc net.Conn) {
	c.rmu.Lock()
	c.wmu.Lock()
	c.nc = nc
	c.raw = nil
	c.wmu.Unlock()
	c.rmu.Unlock()
}

// DecodeFrame decodes the frame at the front of data if data holds all of
// it, and returns its size; NextMessage then returns its messages. It
// returns 0 when data holds only the start of a frame. The header is
// checked (algorithm, declared size against max as in ReadMessage) as soon
// as data holds it, before any of the body is decompressed; a raw frame's
// messages point into data. Errors are final, as in ReadMessage.
func (c *Conn) DecodeFrame(data []byte, max int) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rerr != nil {
		return 0, c.rerr
	}
	if c.closed {
		return 0, net.ErrClosed
	}
	c.releaseReadLocked()
	if len(data) < headerLen {
		return 0, nil
	}
	compressed, bodyLen, err := parseHeader(data[:headerLen], c.codec.cfg.alg, max, c.codec.frameCap(max), c.stats.framesIn.Load() == 0)
	if err != nil {
		return 0, c.fail(err)
	}
	if len(data)-headerLen < bodyLen {
		return 0, nil
	}
	if err := c.decodeBody(compressed, data[headerLen:headerLen+bodyLen], max); err != nil {
		return 0, err
	}
	return headerLen + bodyLen, nil
}

// NextMessage returns the next message of the frame DecodeFrame last
// decoded, if one is left. m.Data is valid until the next NextMessage,
// DecodeFrame or Close (and, for a raw frame, while DecodeFrame's data is
// unchanged).
func (c *Conn) NextMessage() (getty.Message, bool) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rerr != nil || c.closed || c.next >= len(c.content) {
		return getty.Message{}, false
	}
	data, err := c.nextRecord()
	if err != nil {
		// setContent checked every record; should one still be bad, the
		// error is final and the next DecodeFrame returns it.
		c.fail(err) //nolint:errcheck // recorded in rerr
		return getty.Message{}, false
	}
	c.left--
	c.stats.msgsIn.Add(1)
	return getty.Message{Kind: getty.Binary, Data: data}, true
}

// AppendFrames appends to dst the frames WriteMessages would write for ms
// (and counts them as written). The caller writes them to the stream. An
// error is final, as in WriteMessages.
func (c *Conn) AppendFrames(dst []byte, ms []getty.Message) ([]byte, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return dst, c.werr
	}
	if c.closed {
		return dst, net.ErrClosed
	}
	start := len(dst)
	out, err := c.appendFrames(dst, ms)
	if err != nil {
		c.werr = err
		return out, err
	}
	c.stats.wireOut.Add(uint64(len(out) - start))
	return out, nil
}

// PlainStream reports whether the wrapped listener yields plain TCP or
// Unix stream connections, which getty.EngineEventLoop can drive.
func (l *Listener) PlainStream() bool {
	p, ok := l.inner.(interface{ PlainStream() bool })
	return ok && p.PlainStream()
}
