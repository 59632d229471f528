//go:build linux

package unix

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gettynet/getty"
	xunix "golang.org/x/sys/unix"
)

// sndbufOverhead is what the kernel keeps of SO_SNDBUF for itself: a Unix
// datagram may hold at most SO_SNDBUF - 32 bytes (unix_dgram_sendmsg).
const sndbufOverhead = 32

// PacketConn is a Unix datagram socket as a getty.PacketConn: the server's
// bound socket (unconnected: it talks to anyone and replies with WriteTo)
// or a client's socket connected to its server.
//
// The session engine reads it from one goroutine and writes it from one
// goroutine at a time; Close, the deadline setters and the accessors are
// safe for concurrent use.
type PacketConn struct {
	c         *net.UnixConn
	file      *sockFile // nil for abstract and autobind addresses
	connected bool
	raddr     net.Addr
	sndbuf    int
	limit     int
	r         msgReader
	dropped   atomic.Uint64
	closeOnce sync.Once
	closeErr  error
}

// newPacketConn takes ownership of fd (and file, removed on Close).
func newPacketConn(fd int, file *sockFile, connected bool, cfg *Config) (*PacketConn, error) {
	f := fdFile(fd, "unixgram")
	pc, err := net.FilePacketConn(f)
	f.Close() //nolint:errcheck // FilePacketConn holds its own duplicate
	if err != nil {
		file.remove() //nolint:errcheck // best effort cleanup of our own file
		return nil, err
	}
	uc := pc.(*net.UnixConn)
	c := &PacketConn{c: uc, file: file, connected: connected}
	if connected {
		c.raddr = uc.RemoteAddr()
	}
	rc, err := uc.SyscallConn()
	if err == nil {
		c.sndbuf, err = sendBuffer(rc)
	}
	if err != nil {
		c.Close() //nolint:errcheck // the constructor failed; its error is returned
		return nil, err
	}
	c.limit = c.sndbuf - sndbufOverhead
	c.r.init(rc, string(Datagram), cfg.MessageBuffer)
	return c, nil
}

// sendBuffer reads SO_SNDBUF.
func sendBuffer(rc interface{ Control(func(uintptr)) error }) (int, error) {
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		n, serr = xunix.GetsockoptInt(int(fd), xunix.SOL_SOCKET, xunix.SO_SNDBUF)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, os.NewSyscallError("getsockopt", serr)
	}
	return n, nil
}

// tooLarge is the error refusing an n-byte message on a socket whose send
// buffer is sndbuf.
func tooLarge(n, sndbuf int) error {
	return fmt.Errorf("%w: %d bytes, the limit is %d (SO_SNDBUF %d less %d): %w",
		ErrDatagramTooLarge, n, sndbuf-sndbufOverhead, sndbuf, sndbufOverhead, getty.ErrMessageTooLarge)
}

// MaxDatagram is the largest datagram the socket can send: its SO_SNDBUF,
// read when the socket was made, less 32 bytes.
func (c *PacketConn) MaxDatagram() int { return c.limit }

// CheckMessageSize refuses a message over MaxDatagram with an error
// wrapping ErrDatagramTooLarge (getty.MessageLimiter).
func (c *PacketConn) CheckMessageSize(n int) error {
	if n > c.limit {
		return tooLarge(n, c.sndbuf)
	}
	return nil
}

// Connected reports whether the socket has a fixed peer (a dialed client).
func (c *PacketConn) Connected() bool { return c.connected }

// Dropped counts datagrams an unconnected socket could not deliver because
// the destination had gone (nobody bound to it, its file removed, no
// permission, or an address that is not a Unix one).
func (c *PacketConn) Dropped() uint64 { return c.dropped.Load() }

// ReadMessage receives one datagram. A datagram over max bytes is consumed
// and reported as a *getty.PacketError wrapping getty.ErrMessageTooLarge.
// A datagram from a socket that never bound an address has a nil Addr.
func (c *PacketConn) ReadMessage(max int) (getty.Message, error) {
	data, size, err := c.r.next(max)
	if err != nil {
		return getty.Message{}, err
	}
	from := c.r.from()
	if data == nil && size > max {
		return getty.Message{}, &getty.PacketError{Addr: from,
			Err: fmt.Errorf("%w: datagram of %d bytes, the limit is %d", getty.ErrMessageTooLarge, size, max)}
	}
	return getty.Message{Kind: getty.Binary, Addr: from, Data: data}, nil
}

// WriteMessages sends each message as one datagram, to m.Addr or, when it
// is nil, to the connected peer. A send blocks while the receiver's queue
// is full, until the write deadline.
func (c *PacketConn) WriteMessages(ms []getty.Message) error {
	for _, m := range ms {
		if err := c.CheckMessageSize(len(m.Data)); err != nil {
			return err
		}
		var err error
		if m.Addr == nil {
			_, err = c.c.Write(m.Data)
		} else if ua, ok := m.Addr.(*net.UnixAddr); ok {
			_, err = c.c.WriteToUnix(m.Data, ua)
		} else {
			err = fmt.Errorf("unix: %s is not a Unix address: %w", m.Addr, xunix.EAFNOSUPPORT)
		}
		if err == nil {
			continue
		}
		if !c.connected && destinationGone(err) {
			c.dropped.Add(1)
			continue
		}
		if errors.Is(err, xunix.EMSGSIZE) {
			err = fmt.Errorf("%w (the kernel said: %w)", tooLarge(len(m.Data), c.sndbuf), err)
		}
		return err
	}
	return nil
}

// destinationGone reports errors about one destination, not the socket.
func destinationGone(err error) bool {
	for _, e := range []error{xunix.ECONNREFUSED, xunix.ENOENT, xunix.EPERM, xunix.EACCES, xunix.ENOTDIR, xunix.EPROTOTYPE, xunix.EAFNOSUPPORT, xunix.ENAMETOOLONG} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// LocalAddr is the socket's own address: its path, "@name", or the
// kernel's autobind name.
func (c *PacketConn) LocalAddr() net.Addr { return c.c.LocalAddr() }

// RemoteAddr is the connected peer, or nil for an unconnected socket.
func (c *PacketConn) RemoteAddr() net.Addr {
	if c.raddr == nil {
		return nil
	}
	return c.raddr
}

// SetDeadline sets the read and write deadlines.
func (c *PacketConn) SetDeadline(t time.Time) error { return c.c.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *PacketConn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline: a send blocked on a full
// receiver fails when it passes.
func (c *PacketConn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }

// SyscallConn gives access to the socket's descriptor.
func (c *PacketConn) SyscallConn() (syscall.RawConn, error) { return c.c.SyscallConn() }

// UnixConn returns the underlying socket. Reading or writing it directly
// while a session runs corrupts the session.
func (c *PacketConn) UnixConn() *net.UnixConn { return c.c }

// Close closes the socket and removes its file.
func (c *PacketConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.c.Close()
		if err := c.file.remove(); c.closeErr == nil {
			c.closeErr = err
		}
	})
	return c.closeErr
}
