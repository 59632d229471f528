package getty

import (
	"context"
	"net"
	"time"
)

// Conn is what a transport hands to the session engine. It comes in two
// shapes, told apart by the methods it has:
//
//   - a stream (TCP, TLS, Unix stream) is a net.Conn: the session reads bytes
//     and the codec finds the package boundaries;
//   - a message connection (WebSocket, Unix seqpacket, UDP, Unix datagram)
//     is a MessageConn: the transport delivers whole messages, and each
//     message holds one or more whole packages.
//
// A Conn that is neither is refused when the session starts.
type Conn interface {
	LocalAddr() net.Addr
	// RemoteAddr is the fixed peer, or nil for an unconnected packet socket.
	RemoteAddr() net.Addr
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
}

// MessageKind says how a message travels. It matters to WebSocket (text or
// binary frames) and is Binary everywhere else.
type MessageKind uint8

// Message kinds.
const (
	Binary MessageKind = iota
	Text
)

func (k MessageKind) String() string {
	if k == Text {
		return "text"
	}
	return "binary"
}

// Message is one transport message: a datagram, a seqpacket record or a
// WebSocket message.
type Message struct {
	Kind MessageKind
	// Addr is the peer for packet transports: the sender of a received
	// message, the destination of a sent one (nil: the connected peer).
	Addr net.Addr
	Data []byte
}

// MessageConn is a message-oriented connection.
//
// The session calls ReadMessage from one goroutine and WriteMessages from one
// goroutine at a time (possibly a different one), never concurrently with
// itself.
type MessageConn interface {
	Conn
	// ReadMessage returns the next message. m.Data is valid until the next
	// call. A message larger than max bytes must be refused (wrapping
	// ErrMessageTooLarge) before max bytes are buffered. Errors are final,
	// except *PacketError, which drops one message and lets reading go on.
	ReadMessage(max int) (m Message, err error)
	// WriteMessages sends each message whole, in order; a transport should
	// send them with as few system calls as it can. It must not retain the
	// slices after it returns.
	WriteMessages(ms []Message) error
}

// MessageLimiter is implemented by message connections that cannot send a
// message over some size (a Unix datagram is bounded by the socket's send
// buffer). The session checks every message against it before queueing, so
// a message that is too large fails its own Write with the returned error
// (which should say the size and the limit) and the session stays usable.
type MessageLimiter interface {
	// CheckMessageSize returns nil if a message of n bytes can be sent, or
	// the error that refuses it.
	CheckMessageSize(n int) error
}

// PacketConn is a MessageConn without delivery guarantees (UDP, Unix
// datagram). On a packet session, a message that fails to decode is reported
// and dropped instead of ending the session, and Write needs a destination
// unless the connection has a fixed peer.
type PacketConn interface {
	MessageConn
	// Connected reports whether the socket has a fixed peer.
	Connected() bool
}

// BufferedReader is implemented by message connections that receive several
// messages per system call. Buffered reports how many received messages the
// next ReadMessage calls return without blocking. While it is not zero, the
// session holds back the writes its handler makes and sends them in one
// batch after the last buffered message.
type BufferedReader interface {
	Buffered() int
}

// Handshaker is implemented by connections with a handshake to finish before
// the session opens (crypto/tls.Conn is one). The session calls it with a
// context bounded by HandshakeTimeout.
type Handshaker interface {
	HandshakeContext(ctx context.Context) error
}

// Pinger is implemented by connections whose protocol has a keepalive probe
// (WebSocket ping and pong). When ReadTimeout is set, a session pings a peer
// that has sent nothing for half of ReadTimeout and counts the answer as a
// read, so a peer that answers neither data nor pings is closed with
// ErrReadTimeout once ReadTimeout has passed.
type Pinger interface {
	// Ping sends one probe. The session calls it on a goroutine of its own,
	// never concurrently with itself; it may block until the probe is
	// written.
	Ping() error
	// LastPong reports when the connection last heard from its peer outside
	// of data messages (a pong, a ping), or the zero time.
	LastPong() time.Time
}

// CauseCloser is implemented by connections whose protocol can tell the peer
// why they close (a WebSocket close frame with a status code). When a
// session ends it calls CloseWithCause with the session's cause (Session.Err)
// instead of Close. It may spend a bounded time on a closing handshake.
type CauseCloser interface {
	CloseWithCause(cause error) error
}

// Listener yields connections to a Server.
type Listener interface {
	// Accept waits for the next connection. It returns an error wrapping
	// net.ErrClosed once the listener is closed.
	Accept() (Conn, error)
	Close() error
	Addr() net.Addr
}

// Dialer opens connections for a Client.
type Dialer interface {
	Dial(ctx context.Context) (Conn, error)
}

// DialerFunc adapts a function to a Dialer.
type DialerFunc func(ctx context.Context) (Conn, error)

// Dial calls f(ctx).
func (f DialerFunc) Dial(ctx context.Context) (Conn, error) { return f(ctx) }

// NetListener adapts a stream net.Listener (TCP, TLS, Unix) to a Listener.
func NetListener(l net.Listener) Listener { return netListener{l} }

type netListener struct{ l net.Listener }

func (n netListener) Accept() (Conn, error) {
	c, err := n.l.Accept()
	if err != nil {
		return nil, err
	}
	return c, nil
}
func (n netListener) Close() error   { return n.l.Close() }
func (n netListener) Addr() net.Addr { return n.l.Addr() }
