package compress

import (
	"context"
	"fmt"
	"net"

	"github.com/gettynet/getty"
)

// Listener wraps a stream transport's getty.Listener so that every
// connection it accepts compresses (see Conn). All its connections share one
// set of compressors. It is safe for concurrent use.
type Listener struct {
	inner getty.Listener
	codec *codec
}

// NewListener wraps l. A nil cfg means defaults (S2).
func NewListener(l getty.Listener, cfg *Config) (*Listener, error) {
	if l == nil {
		return nil, fmt.Errorf("%w: compress: nil Listener", getty.ErrInvalidOptions)
	}
	k, err := newCodec(cfg)
	if err != nil {
		return nil, err
	}
	return &Listener{inner: l, codec: k}, nil
}

// Accept waits for the next connection and wraps it. A connection that is
// not a stream is closed and reported with ErrNotStream, which stops the
// server's Serve: the transport cannot carry compressed frames.
func (l *Listener) Accept() (getty.Conn, error) {
	c, err := l.inner.Accept()
	if err != nil {
		return nil, err
	}
	nc, ok := c.(net.Conn)
	if !ok {
		c.Close() //nolint:errcheck // refused: the error below says why
		return nil, fmt.Errorf("%w: %T", ErrNotStream, c)
	}
	return newConn(nc, l.codec), nil
}

// Close closes the wrapped listener.
func (l *Listener) Close() error { return l.inner.Close() }

// Addr is the wrapped listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Dialer wraps a stream transport's getty.Dialer so that every connection it
// opens compresses (see Conn). All its connections share one set of
// compressors. It is safe for concurrent use.
type Dialer struct {
	inner getty.Dialer
	codec *codec
}

// NewDialer wraps d. A nil cfg means defaults (S2).
func NewDialer(d getty.Dialer, cfg *Config) (*Dialer, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: compress: nil Dialer", getty.ErrInvalidOptions)
	}
	k, err := newCodec(cfg)
	if err != nil {
		return nil, err
	}
	return &Dialer{inner: d, codec: k}, nil
}

// Dial opens a connection through the wrapped dialer and wraps it.
func (d *Dialer) Dial(ctx context.Context) (getty.Conn, error) {
	c, err := d.inner.Dial(ctx)
	if err != nil {
		return nil, err
	}
	nc, ok := c.(net.Conn)
	if !ok {
		c.Close() //nolint:errcheck // refused: the error below says why
		return nil, fmt.Errorf("%w: %T", ErrNotStream, c)
	}
	return newConn(nc, d.codec), nil
}
