package loadgen

import (
	"fmt"
	"net"
	"time"

	"github.com/gettynet/getty"
)

// aLongTimeAgo is a deadline in the past: setting it wakes blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// link is one connection as the workers see it: a byte stream. Reads come
// from one goroutine and writes from one goroutine (possibly another).
type link interface {
	// read fills p with echoed bytes.
	read(p []byte) (int, error)
	// write sends whole frames of frameLen bytes each.
	write(frames []byte, frameLen int) error
	// wake makes blocked reads and writes return at once.
	wake()
	close() error
}

func newLink(c getty.Conn) (link, error) {
	switch c := c.(type) {
	case getty.MessageConn:
		return &messageLink{c: c}, nil
	case net.Conn:
		return streamLink{c}, nil
	}
	return nil, fmt.Errorf("%w: connection %T is neither a net.Conn nor a getty.MessageConn", ErrConfig, c)
}

// streamLink drives a raw net.Conn: frames go out as they are, in one write.
type streamLink struct{ c net.Conn }

func (s streamLink) read(p []byte) (int, error) { return s.c.Read(p) }

func (s streamLink) write(frames []byte, _ int) error {
	_, err := s.c.Write(frames)
	return err
}

func (s streamLink) wake() {
	_ = s.c.SetReadDeadline(aLongTimeAgo)  // best effort: a closed conn fails I/O anyway
	_ = s.c.SetWriteDeadline(aLongTimeAgo) // best effort
}

func (s streamLink) close() error { return s.c.Close() }

// messageLink drives a getty.MessageConn: each frame travels as one
// message, and the frames of received messages are read as a stream.
type messageLink struct {
	c       getty.MessageConn
	msgs    []getty.Message // scratch of the writing goroutine
	pending []byte          // the part of the last message read did not take
}

// maxMessage bounds one received message.
const maxMessage = 64 << 20

func (m *messageLink) read(p []byte) (int, error) {
	if len(m.pending) == 0 {
		msg, err := m.c.ReadMessage(maxMessage)
		if err != nil {
			return 0, err
		}
		m.pending = append(m.pending[:0], msg.Data...)
	}
	n := copy(p, m.pending)
	m.pending = m.pending[:copy(m.pending, m.pending[n:])]
	return n, nil
}

func (m *messageLink) write(frames []byte, frameLen int) error {
	m.msgs = m.msgs[:0]
	for off := 0; off < len(frames); off += frameLen {
		m.msgs = append(m.msgs, getty.Message{Kind: getty.Binary, Data: frames[off : off+frameLen]})
	}
	err := m.c.WriteMessages(m.msgs)
	clear(m.msgs)
	return err
}

func (m *messageLink) wake() {
	_ = m.c.SetReadDeadline(aLongTimeAgo)  // best effort
	_ = m.c.SetWriteDeadline(aLongTimeAgo) // best effort
}

func (m *messageLink) close() error { return m.c.Close() }
