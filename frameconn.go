package getty

import (
	"io"
	"net"
)

// FramedConn is a MessageConn that carries its messages in frames of its
// own over an inner byte stream (package compress implements it). The
// goroutine engine uses it as any MessageConn. The event-loop engine, which
// reads its sockets itself, drives it through the methods below instead of
// ReadMessage: it takes the inner stream's socket over, pushes the bytes it
// reads to DecodeFrame, and writes the bytes AppendFrames encodes (or, when
// the socket is full, hands its writes to WriteMessages on a goroutine of
// its own).
type FramedConn interface {
	MessageConn
	// NetConn returns the inner stream.
	NetConn() net.Conn
	// SetNetConn replaces the inner stream with c, which carries the same
	// bytes (the engine's own handle on the socket). It is called once,
	// before the session starts.
	SetNetConn(c net.Conn)
	// DecodeFrame decodes the frame at the front of data if data holds all
	// of it, and returns its size; its messages are then returned by
	// NextMessage. It returns 0 when data holds only the start of a frame:
	// the caller keeps those bytes and calls again once more have arrived.
	// A frame whose header declares more than the limit for max (see
	// ReadMessage) is refused, wrapping ErrMessageTooLarge, as soon as its
	// header is in data: before its body is buffered or decompressed.
	// Errors are final, as ReadMessage's data errors are.
	DecodeFrame(data []byte, max int) (used int, err error)
	// NextMessage returns the next message of the frame DecodeFrame last
	// decoded; ok is false once all have been returned. m.Data is valid
	// until the next NextMessage, DecodeFrame or Close, and while the data
	// given to DecodeFrame is unchanged.
	NextMessage() (m Message, ok bool)
	// AppendFrames appends to dst the bytes WriteMessages would write for
	// ms. The caller writes them to the inner stream itself, never
	// concurrently with WriteMessages. Its errors are final, as
	// WriteMessages' are.
	AppendFrames(dst []byte, ms []Message) ([]byte, error)
}

// evConn returns the event-loop connection under a session's connection
// (itself, or the inner stream of a FramedConn), or nil.
func (s *Session[T]) evConn() *evConn {
	if s.stream != nil {
		ec, _ := s.stream.(*evConn)
		return ec
	}
	if s.msg != nil {
		return evFramed(s.msg.c)
	}
	return nil
}

// sink is the stream a blocking flush writes bytes to: the session's
// stream, or the inner stream of an event-loop FramedConn (whose frames the
// writer encoded itself, see tryFrames).
func (w *writer[T]) sink() io.Writer {
	if w.sess().stream != nil {
		return w.sess().stream
	}
	return w.sess().msg.c.(FramedConn).NetConn()
}
