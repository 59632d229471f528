//go:build linux

package unix

import (
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/gettynet/getty"
)

// SeqpacketConn is a Unix seqpacket connection as a getty.MessageConn: a
// reliable, ordered connection that keeps message boundaries, one message
// per package.
//
// The session engine reads it from one goroutine and writes it from one
// goroutine at a time; Close, the deadline setters and the accessors are
// safe for concurrent use.
type SeqpacketConn struct {
	c      *net.UnixConn
	sndbuf int
	limit  int
	r      msgReader
}

func newSeqpacketConn(uc *net.UnixConn, cfg *Config) (*SeqpacketConn, error) {
	c := &SeqpacketConn{c: uc}
	rc, err := uc.SyscallConn()
	if err == nil {
		c.sndbuf, err = sendBuffer(rc)
	}
	if err != nil {
		uc.Close() //nolint:errcheck // the constructor failed; its error is returned
		return nil, err
	}
	c.limit = c.sndbuf - sndbufOverhead
	c.r.init(rc, string(Seqpacket), cfg.MessageBuffer)
	return c, nil
}

// MaxMessage is the largest message the connection can send: its
// SO_SNDBUF, read when the connection was made, less 32 bytes.
func (c *SeqpacketConn) MaxMessage() int { return c.limit }

// CheckMessageSize refuses a message over MaxMessage with an error wrapping
// ErrDatagramTooLarge (getty.MessageLimiter).
func (c *SeqpacketConn) CheckMessageSize(n int) error {
	if n > c.limit {
		return tooLarge(n, c.sndbuf)
	}
	return nil
}

// ReadMessage receives one message. A message over max bytes ends the
// connection with an error wrapping getty.ErrMessageTooLarge. As in package
// net, an empty message reads as the end of the connection (io.EOF).
func (c *SeqpacketConn) ReadMessage(max int) (getty.Message, error) {
	data, size, err := c.r.next(max)
	if err != nil {
		return getty.Message{}, err
	}
	if size > max {
		return getty.Message{}, fmt.Errorf("%w: seqpacket message of %d bytes, the limit is %d", getty.ErrMessageTooLarge, size, max)
	}
	if size == 0 {
		return getty.Message{}, io.EOF
	}
	return getty.Message{Kind: getty.Binary, Data: data}, nil
}

// WriteMessages sends each message as one record. Empty messages are not
// sent: the peer would read them as the end of the connection.
func (c *SeqpacketConn) WriteMessages(ms []getty.Message) error {
	for _, m := range ms {
		if len(m.Data) == 0 {
			continue
		}
		if err := c.CheckMessageSize(len(m.Data)); err != nil {
			return err
		}
		if _, err := c.c.Write(m.Data); err != nil {
			return err
		}
	}
	return nil
}

// PeerCred reports the credentials of the process at the other end.
func (c *SeqpacketConn) PeerCred() (Cred, error) { return PeerCred(c.c) }

// LocalAddr is the local address (often unnamed for a client).
func (c *SeqpacketConn) LocalAddr() net.Addr { return c.c.LocalAddr() }

// RemoteAddr is the peer's address (often unnamed for a server's peer).
func (c *SeqpacketConn) RemoteAddr() net.Addr { return c.c.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *SeqpacketConn) SetDeadline(t time.Time) error { return c.c.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *SeqpacketConn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (c *SeqpacketConn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }

// SyscallConn gives access to the socket's descriptor.
func (c *SeqpacketConn) SyscallConn() (syscall.RawConn, error) { return c.c.SyscallConn() }

// UnixConn returns the underlying socket. Reading or writing it directly
// while a session runs corrupts the session.
func (c *SeqpacketConn) UnixConn() *net.UnixConn { return c.c }

// Close closes the connection.
func (c *SeqpacketConn) Close() error { return c.c.Close() }
