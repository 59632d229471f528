package proxyproto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultHeaderTimeout bounds the wait for a header when
// Config.HeaderTimeout is zero.
const DefaultHeaderTimeout = 5 * time.Second

// Config configures the server side of the PROXY protocol. The zero value
// is ready to use: a header (v1 or v2) is required, from any peer, within
// 5 s.
type Config struct {
	// HeaderTimeout bounds the wait for the whole header, from the first
	// read. Default DefaultHeaderTimeout (5 s); negative: no limit of its
	// own (a getty session still bounds it with HandshakeTimeout).
	HeaderTimeout time.Duration
	// Trusted, when not empty, lists the networks proxies connect from; a
	// connection from any other address fails with ErrUntrusted before a
	// byte is read, so that clients who reach the port directly cannot
	// forge their address. Default: trust every peer (restrict access to
	// the port by other means).
	Trusted []netip.Prefix
}

// Conn is the server side of a connection that starts with a PROXY
// protocol header. The header is read by HandshakeContext (which a getty
// session calls before OnOpen) or else by the first Read; from then on
// RemoteAddr and LocalAddr report the addresses the header carries (the
// client's, and the one it connected to), and Read returns the bytes that
// follow the header.
//
// Its methods are safe for concurrent use, as net.Conn's are; RemoteAddr
// and LocalAddr never wait for the header (before it is read, they report
// the proxy's connection).
type Conn struct {
	net.Conn
	cfg Config

	rmu     sync.Mutex  // held by the reader of the header
	rest    []byte      // bytes read past the header, returned by Read first
	through atomic.Bool // the header is in and rest is drained: Read goes straight through

	mu        sync.Mutex // guards the fields below
	done      bool       // the header was read, or failed (err)
	hdr       *Header
	err       error
	parsing   bool      // a header read is in progress
	limit     time.Time // its deadline
	userRead  time.Time // the read deadline the user set
	cancelled bool      // the context of HandshakeContext ended
}

// Server wraps c, whose peer is a proxy that sends a PROXY protocol header
// first. A nil cfg means defaults.
func Server(c net.Conn, cfg *Config) *Conn {
	pc := &Conn{Conn: c}
	if cfg != nil {
		pc.cfg = *cfg
	}
	return pc
}

// HandshakeContext reads the header, if it has not been read yet, within
// ctx and the header timeout. It returns the error that made the header
// unusable (ErrNoHeader, ErrMalformed, ErrHeaderTimeout, ErrUntrusted or a
// read error), the same error on every call.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	c.mu.Lock()
	done, err := c.done, c.err
	c.mu.Unlock()
	if done {
		return err
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.readHeader(ctx)
}

// Header returns the header once it has been read, or nil.
func (c *Conn) Header() *Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hdr
}

// Read reads the bytes that follow the header, reading the header first if
// HandshakeContext has not.
func (c *Conn) Read(b []byte) (int, error) {
	if c.through.Load() {
		return c.Conn.Read(b)
	}
	c.rmu.Lock()
	if err := c.readHeader(context.Background()); err != nil {
		c.rmu.Unlock()
		return 0, err
	}
	if len(c.rest) > 0 {
		n := copy(b, c.rest)
		c.rest = c.rest[n:]
		if len(c.rest) == 0 {
			c.rest = nil
			c.through.Store(true)
		}
		c.rmu.Unlock()
		return n, nil
	}
	c.through.Store(true)
	c.rmu.Unlock()
	return c.Conn.Read(b)
}

// RemoteAddr is the client's address from the header; the proxy's before
// the header is read, or when it carried no address (LOCAL, UNKNOWN).
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	h := c.hdr
	c.mu.Unlock()
	if h != nil && h.Source != nil {
		return h.Source
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr is the address the client connected to, from the header; this
// socket's own before the header is read or when it carried no address.
func (c *Conn) LocalAddr() net.Addr {
	c.mu.Lock()
	h := c.hdr
	c.mu.Unlock()
	if h != nil && h.Destination != nil {
		return h.Destination
	}
	return c.Conn.LocalAddr()
}

// SetReadDeadline sets the read deadline. While the header is being read,
// a later deadline than the header's own waits until the header is in.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.userRead = t
	if c.parsing && (t.IsZero() || t.After(c.limit)) {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// NetConn returns the proxy's connection. Reading it directly skips the
// header and what was read past it.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// SyscallConn gives access to the socket for writing (getty's write path
// uses it for non-blocking writes). Reading through it skips what Read
// buffered past the header.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("proxyproto: the connection has no file descriptor")
	}
	return sc.SyscallConn()
}

// readHeader reads and parses the header once; the caller holds rmu.
func (c *Conn) readHeader(ctx context.Context) error {
	c.mu.Lock()
	if c.done {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.mu.Unlock()
	if err := c.checkTrusted(); err != nil {
		return c.finish(nil, err)
	}
	timeout := c.cfg.HeaderTimeout
	if timeout == 0 {
		timeout = DefaultHeaderTimeout
	}
	c.mu.Lock()
	c.parsing = true
	c.limit = time.Time{}
	if timeout > 0 {
		c.limit = time.Now().Add(timeout)
	}
	if d, ok := ctx.Deadline(); ok && (c.limit.IsZero() || d.Before(c.limit)) {
		c.limit = d
	}
	eff := c.limit
	if !c.userRead.IsZero() && (eff.IsZero() || c.userRead.Before(eff)) {
		eff = c.userRead
	}
	err := c.Conn.SetReadDeadline(eff)
	c.mu.Unlock()
	if err != nil {
		return c.finish(nil, err)
	}
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.parsing {
			c.cancelled = true
			c.Conn.SetReadDeadline(time.Unix(1, 0)) //nolint:errcheck // wakes the header read; it fails either way
		}
	})
	defer stop()

	buf := make([]byte, 0, 256)
	for {
		h, n, perr := Parse(buf)
		if perr != nil {
			return c.finish(nil, perr)
		}
		if n > 0 {
			if n < len(buf) {
				c.rest = buf[n:]
			}
			return c.finish(h, nil)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(2*cap(buf), MaxHeaderLen)-len(buf))...)[:len(buf)]
		}
		m, rerr := c.Conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if rerr != nil && m == 0 {
			return c.finish(nil, c.readError(ctx, rerr, timeout, len(buf)))
		}
	}
}

func (c *Conn) readError(ctx context.Context, err error, timeout time.Duration, got int) error {
	c.mu.Lock()
	cancelled := c.cancelled
	c.mu.Unlock()
	expired := cancelled && errors.Is(ctx.Err(), context.DeadlineExceeded)
	switch {
	case cancelled && !expired:
		return fmt.Errorf("proxyproto: reading the PROXY header: %w", context.Cause(ctx))
	case expired:
		return fmt.Errorf("%w: %d bytes received before the handshake deadline: %w", ErrHeaderTimeout, got, os.ErrDeadlineExceeded)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: %d bytes received in %v: %w", ErrHeaderTimeout, got, timeout, err)
	}
	return fmt.Errorf("proxyproto: reading the PROXY header (%d bytes in): %w", got, err)
}

func (c *Conn) checkTrusted() error {
	if len(c.cfg.Trusted) == 0 {
		return nil
	}
	var ip netip.Addr
	switch a := c.Conn.RemoteAddr().(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr().Unmap()
	case *net.UDPAddr:
		ip = a.AddrPort().Addr().Unmap()
	}
	for _, p := range c.cfg.Trusted {
		if ip.IsValid() && p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("%w: %v", ErrUntrusted, c.Conn.RemoteAddr())
}

// finish records the outcome and puts back the user's read deadline.
func (c *Conn) finish(h *Header, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done, c.hdr, c.err = true, h, err
	if c.parsing {
		c.parsing = false
		if derr := c.Conn.SetReadDeadline(c.userRead); derr != nil && err == nil {
			c.err = derr
		}
	}
	return c.err
}
