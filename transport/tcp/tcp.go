// Package tcp is getty's TCP transport, with optional TLS: Listen for a
// getty.Server, Dialer for a getty.Client.
//
//	l, err := tcp.Listen("127.0.0.1:7000", nil)
//	go srv.Serve(l)
//	client, err := getty.Dial(ctx, tcp.Dialer{Addr: "127.0.0.1:7000"}, codec, handler, nil)
//
// IPv4 and IPv6 both work ("[::1]:7000"). With Config.TLS set, connections
// are TLS; the handshake runs on the session's goroutine, bounded by the
// session's HandshakeTimeout, before OnOpen.
//
// Behind a load balancer, Config.ProxyProtocol reads the PROXY protocol
// header (v1 or v2, package proxyproto) that the balancer sends first, so
// that Session.RemoteAddr is the client's address; it too is read on the
// session's goroutine before OnOpen (and before a TLS handshake).
// Config.ReusePort lets several listeners (processes, or servers in one
// process) share one port: the kernel spreads new connections among them,
// and a new process can start listening before the old one drains with
// Shutdown. See docs/deploy.md.
package tcp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/listenfd"
	"github.com/gettynet/getty/transport/proxyproto"
)

// DefaultKeepAlive is the TCP keepalive period used when Config.KeepAlive is
// zero.
const DefaultKeepAlive = 15 * time.Second

// Config holds socket options. The zero value is ready to use: plain TCP,
// TCP_NODELAY on, keepalive every 15 s, kernel buffer sizes.
type Config struct {
	// TLS, when set, makes the connections TLS. A server needs
	// Certificates (or GetCertificate); a client verifies the server
	// against RootCAs (system roots if nil). A zero MinVersion means TLS
	// 1.2 here, whatever the Go toolchain's default or GODEBUG say. See
	// package tlsconfig.
	TLS *tls.Config
	// Delay turns Nagle's algorithm back on (TCP_NODELAY off).
	Delay bool
	// KeepAlive is the keepalive probe period. Zero means 15 s; negative
	// turns keepalive off.
	KeepAlive time.Duration
	// ReadBuffer and WriteBuffer set SO_RCVBUF and SO_SNDBUF when positive.
	ReadBuffer  int
	WriteBuffer int

	// ProxyProtocol, when set, makes a Listener require a PROXY protocol
	// header (v1 or v2) at the start of every connection, and report the
	// address it carries as the session's RemoteAddr. The header is read
	// before OnOpen (and before TLS), within its HeaderTimeout and the
	// session's HandshakeTimeout; a connection without a valid header is
	// closed, its error (wrapping proxyproto.ErrNoHeader, ErrMalformed or
	// ErrHeaderTimeout) goes to the Observer and the debug log, and
	// Stats.HandshakeFailed counts it. Default nil: no header is expected,
	// and the bytes are data. Dialers ignore it.
	ProxyProtocol *proxyproto.Config

	// ReusePort sets SO_REUSEPORT on a Listener's socket, so that several
	// listeners, in one process or several, can bind the same address; the
	// kernel balances new connections among them. A new process can so take
	// over a port while the old one drains (Server.Shutdown). Every
	// listener sharing the port must set it (and, on Linux, run as the same
	// user). Supported on Linux, the BSDs and macOS; elsewhere Listen fails
	// with an error wrapping errors.ErrUnsupported. Dialers ignore it.
	ReusePort bool
}

func (c *Config) orZero() *Config {
	if c == nil {
		return &Config{}
	}
	return c
}

// configure applies the socket options to a fresh connection.
func (c *Config) configure(tc *net.TCPConn) error {
	if err := tc.SetNoDelay(!c.Delay); err != nil {
		return err
	}
	switch ka := c.KeepAlive; {
	case ka < 0:
		if err := tc.SetKeepAlive(false); err != nil {
			return err
		}
	default:
		if ka == 0 {
			ka = DefaultKeepAlive
		}
		if err := tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: ka, Interval: ka, Count: 3}); err != nil {
			return err
		}
	}
	if c.ReadBuffer > 0 {
		if err := tc.SetReadBuffer(c.ReadBuffer); err != nil {
			return err
		}
	}
	if c.WriteBuffer > 0 {
		if err := tc.SetWriteBuffer(c.WriteBuffer); err != nil {
			return err
		}
	}
	return nil
}

// Listener accepts TCP (or TLS) connections for a getty.Server.
type Listener struct {
	l   *net.TCPListener
	cfg Config
	dup listenfd.Dup // SyscallConn's socket
}

// Listen listens on addr ("host:port"; port 0 picks a free one). A nil cfg
// means defaults.
func Listen(addr string, cfg *Config) (*Listener, error) {
	cfg = cfg.orZero()
	if cfg.TLS != nil && len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil && cfg.TLS.GetConfigForClient == nil {
		return nil, fmt.Errorf("%w: tcp: TLS config has no certificate", getty.ErrInvalidOptions)
	}
	cfg = withMinTLS(cfg)
	var lc net.ListenConfig
	if cfg.ReusePort {
		lc.Control = reusePort
	}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Listener{l: l.(*net.TCPListener), cfg: *cfg}, nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (getty.Conn, error) {
	for {
		tc, err := l.l.AcceptTCP()
		if err != nil {
			return nil, err
		}
		if err := l.cfg.configure(tc); err != nil {
			// The peer is likely gone already (reset before we got to it).
			tc.Close() //nolint:errcheck // the connection is being discarded
			continue
		}
		var c net.Conn = tc
		if l.cfg.ProxyProtocol != nil {
			c = proxyproto.Server(tc, l.cfg.ProxyProtocol)
		}
		if l.cfg.TLS != nil {
			return tls.Server(c, l.cfg.TLS), nil
		}
		return c, nil
	}
}

// Close stops listening.
func (l *Listener) Close() error {
	err := l.l.Close()
	if derr := l.dup.Close(); err == nil {
		err = derr
	}
	return err
}

// PlainStream reports whether the listener yields plain TCP connections,
// which getty's event-loop engine can drive: not with TLS or PROXY
// protocol, which need the goroutine engine.
func (l *Listener) PlainStream() bool { return l.cfg.TLS == nil && l.cfg.ProxyProtocol == nil }

// Addr is the listening address.
func (l *Listener) Addr() net.Addr { return l.l.Addr() }

// Dialer dials one TCP (or TLS) address for a getty.Client.
type Dialer struct {
	Addr string // "host:port"
	Config
}

// Dial connects to d.Addr. With TLS, the handshake is left to the session
// (bounded by its HandshakeTimeout); an empty ServerName is taken from Addr.
func (d Dialer) Dial(ctx context.Context) (getty.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", d.Addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	if err := d.configure(tc); err != nil {
		tc.Close() //nolint:errcheck // the dial failed; its error is returned
		return nil, err
	}
	if d.TLS == nil {
		return tc, nil
	}
	conf := d.TLS
	if (conf.ServerName == "" && !conf.InsecureSkipVerify) || conf.MinVersion == 0 {
		conf = conf.Clone()
		if conf.MinVersion == 0 {
			conf.MinVersion = tls.VersionTLS12
		}
	}
	if conf.ServerName == "" && !conf.InsecureSkipVerify {
		host, _, err := net.SplitHostPort(d.Addr)
		if err != nil {
			tc.Close() //nolint:errcheck // the dial failed; its error is returned
			return nil, err
		}
		conf.ServerName = host
	}
	return tls.Client(tc, conf), nil
}

// withMinTLS returns cfg, with a copy of its TLS config that requires TLS
// 1.2 when the config leaves MinVersion zero.
func withMinTLS(cfg *Config) *Config {
	if cfg.TLS == nil || cfg.TLS.MinVersion != 0 {
		return cfg
	}
	c := *cfg
	c.TLS = cfg.TLS.Clone()
	c.TLS.MinVersion = tls.VersionTLS12
	return &c
}
