package ws

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gettynet/getty"
	"github.com/gobwas/httphead"
	gws "github.com/gobwas/ws"
)

// Config configures the server side. The zero value is ready to use: any
// path, same-origin browsers only, no subprotocol, no compression, 4 KiB
// read buffer per connection.
type Config struct {
	// Path is the URL path that Listen serves WebSocket on ("/ws"). Empty:
	// every path. Handler ignores it (mount it where you like).
	Path string
	// TLS, when set, makes Listen serve wss://. It needs Certificates (or
	// GetCertificate). HTTP/2 is not offered on that listener.
	TLS *tls.Config
	// HandshakeTimeout bounds reading the upgrade request's headers
	// (http.Server.ReadHeaderTimeout) for Listen. Default 10 s.
	HandshakeTimeout time.Duration
	// OriginPatterns allows cross-origin browser clients whose Origin host
	// matches one of these patterns (path.Match syntax, case-insensitive:
	// "example.com", "*.example.com", "localhost:*"). Requests with the
	// same origin as their Host, and requests without an Origin header
	// (non-browser clients), are always allowed.
	OriginPatterns []string
	// CheckOrigin, when set, replaces the origin check: it returns true to
	// allow the request.
	CheckOrigin func(r *http.Request) bool
	// Subprotocols the server speaks. The first one the client offers, in
	// the client's order, is selected; none is selected when nothing
	// matches (the connection still opens).
	Subprotocols []string
	// Compression configures permessage-deflate.
	Compression Compression
	// ReadBufferSize is each connection's read buffer: small messages are
	// read and handed out from it without a copy. Default 4 KiB.
	ReadBufferSize int
	// CloseTimeout bounds the closing handshake (sending the close frame
	// and waiting for the peer's). Default 2 s; negative: send the close
	// frame, then close at once.
	CloseTimeout time.Duration
	// Header is added to every handshake response.
	Header http.Header
	// ErrorLog receives the HTTP server's errors for Listen. Default:
	// discarded.
	ErrorLog *log.Logger
}

func (c *Config) withDefaults() (Config, error) {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.ReadBufferSize == 0 {
		cfg.ReadBufferSize = DefaultReadBufferSize
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.CloseTimeout < 0 {
		cfg.CloseTimeout = 0
	}
	if cfg.HandshakeTimeout < 0 || cfg.ReadBufferSize < 0 {
		return cfg, fmt.Errorf("%w: ws: negative HandshakeTimeout or ReadBufferSize", getty.ErrInvalidOptions)
	}
	for _, p := range cfg.OriginPatterns {
		if _, err := path.Match(p, ""); err != nil {
			return cfg, fmt.Errorf("%w: ws: origin pattern %q: %w", getty.ErrInvalidOptions, p, err)
		}
	}
	var err error
	if cfg.Compression, err = cfg.Compression.withDefaults(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Handler upgrades HTTP requests to WebSocket connections and hands them to
// a getty.Server: it is both an http.Handler, to mount on any mux or
// server, and the getty.Listener whose Accept yields the connections.
//
//	h, _ := ws.NewHandler(&ws.Config{Subprotocols: []string{"chat"}})
//	mux.Handle("/ws", h)
//	go srv.Serve(h) // srv is a getty.Server
//
// ServeHTTP returns once the connection is accepted (or the handler is
// closed). Its methods are safe for concurrent use.
type Handler struct {
	cfg   Config
	addr  net.Addr
	conns chan *Conn
	done  chan struct{}
	once  sync.Once
}

// NewHandler returns a Handler. A nil cfg means defaults.
func NewHandler(cfg *Config) (*Handler, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Handler{cfg: c, addr: handlerAddr{}, conns: make(chan *Conn), done: make(chan struct{})}, nil
}

// handlerAddr is the Addr of a Handler mounted on someone else's server.
type handlerAddr struct{}

func (handlerAddr) Network() string { return "ws" }
func (handlerAddr) String() string  { return "ws-handler" }

// ServeHTTP checks the origin, upgrades the request and queues the
// connection for Accept. A refused upgrade gets an HTTP error (403 for a
// foreign origin, 400 or 426 for a bad handshake).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-h.done:
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	default:
	}
	if !h.originAllowed(r) {
		http.Error(w, ErrOrigin.Error(), http.StatusForbidden)
		return
	}
	c, err := h.upgrade(w, r)
	if err != nil {
		return // the upgrader answered the client
	}
	select {
	case h.conns <- c:
	case <-h.done:
		c.CloseWithCause(getty.ErrServerClosed) //nolint:errcheck // nobody accepts it any more
	case <-r.Context().Done():
		c.CloseWithCause(getty.ErrServerClosed) //nolint:errcheck // the HTTP server is going away
	}
}

func (h *Handler) upgrade(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	var st deflateState
	u := gws.HTTPUpgrader{Header: h.cfg.Header, Timeout: h.cfg.HandshakeTimeout}
	if len(h.cfg.Subprotocols) > 0 {
		u.Protocol = func(p string) bool {
			for _, s := range h.cfg.Subprotocols {
				if s == p {
					return true
				}
			}
			return false
		}
	}
	if h.cfg.Compression.Enabled {
		u.Negotiate = func(opt httphead.Option) (httphead.Option, error) {
			if st.on {
				return httphead.Option{}, nil
			}
			resp, ok := serverNegotiate(opt)
			st.on = ok
			return resp, nil
		}
	}
	nc, rw, hs, err := u.Upgrade(r, w)
	if err != nil {
		if nc != nil {
			nc.Close() //nolint:errcheck // the handshake failed; the client got an HTTP error
		}
		return nil, err
	}
	var buffered []byte
	if n := rw.Reader.Buffered(); n > 0 {
		buffered, _ = rw.Reader.Peek(n) // frames sent right behind the request
	}
	c := newConn(nc, false, h.cfg.ReadBufferSize, buffered)
	c.proto = hs.Protocol
	c.deflate = st
	c.comp = h.cfg.Compression
	c.closeTO = h.cfg.CloseTimeout
	c.req = r.Clone(context.Background())
	c.req.Body = http.NoBody
	return c, nil
}

func (h *Handler) originAllowed(r *http.Request) bool {
	if h.cfg.CheckOrigin != nil {
		return h.cfg.CheckOrigin(r)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Host)
	if host == strings.ToLower(r.Host) {
		return true
	}
	for _, p := range h.cfg.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}

// Accept waits for the next upgraded connection. After Close it returns an
// error wrapping net.ErrClosed.
func (h *Handler) Accept() (getty.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, ErrClosed
	}
}

// Close stops accepting: Accept returns ErrClosed, and later upgrade
// requests get HTTP 503. Connections already accepted are not touched.
func (h *Handler) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

// Addr is the listening address under Listen; a placeholder for a Handler
// mounted elsewhere.
func (h *Handler) Addr() net.Addr { return h.addr }

// Listener is getty's own WebSocket server: an HTTP server on one address
// that upgrades requests on Config.Path and yields the connections to a
// getty.Server. Its methods are safe for concurrent use.
type Listener struct {
	h      *Handler
	ln     net.Listener
	srv    *http.Server
	served chan struct{}
	scheme string
}

// Listen listens on addr ("host:port"; port 0 picks a free one) and serves
// WebSocket on cfg.Path (wss:// when cfg.TLS is set). A nil cfg means
// defaults.
func Listen(addr string, cfg *Config) (*Listener, error) {
	h, err := NewHandler(cfg)
	if err != nil {
		return nil, err
	}
	c := &h.cfg
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil {
		return nil, fmt.Errorf("%w: ws: TLS config has no certificate", getty.ErrInvalidOptions)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	h.addr = ln.Addr()
	l := &Listener{h: h, ln: ln, served: make(chan struct{}), scheme: "ws"}
	if c.TLS != nil {
		conf := c.TLS.Clone()
		conf.NextProtos = []string{"http/1.1"}
		ln = tls.NewListener(ln, conf)
		l.scheme = "wss"
	}
	mux := http.NewServeMux()
	pattern := c.Path
	if pattern == "" {
		pattern = "/"
	}
	mux.Handle(pattern, h)
	errLog := c.ErrorLog
	if errLog == nil {
		errLog = log.New(io.Discard, "", 0)
	}
	l.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: c.HandshakeTimeout,
		IdleTimeout:       c.HandshakeTimeout, // a kept-alive non-upgrade request
		ErrorLog:          errLog,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // no HTTP/2: it cannot upgrade
	}
	go func() {
		defer close(l.served)
		l.srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed when Close runs
	}()
	return l, nil
}

// Accept waits for the next upgraded connection.
func (l *Listener) Accept() (getty.Conn, error) { return l.h.Accept() }

// Close stops the HTTP server (requests not yet upgraded are dropped) and
// waits for its accept loop to end. Upgraded connections belong to their
// sessions and stay open.
func (l *Listener) Close() error {
	l.h.Close() //nolint:errcheck // never fails
	err := l.srv.Close()
	<-l.served
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Addr is the TCP address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// URL is the ws:// (or wss://) URL of the listener's path.
func (l *Listener) URL() string {
	p := l.h.cfg.Path
	if p == "" {
		p = "/"
	}
	return l.scheme + "://" + l.ln.Addr().String() + p
}
