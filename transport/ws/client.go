package ws

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gettynet/getty"
	gws "github.com/gobwas/ws"
)

// Dialer opens client WebSocket connections (ws:// or wss://) for a
// getty.Client. The zero value except URL is ready to use.
//
//	d := ws.Dialer{URL: "wss://example.com/chat", Subprotocols: []string{"chat"}}
//	client, err := getty.Dial(ctx, d, ws.Codec{}, handler, nil)
type Dialer struct {
	// URL is the ws:// or wss:// URL to dial.
	URL string
	// Header is added to the upgrade request (Origin, Authorization,
	// cookies, ...).
	Header http.Header
	// Subprotocols are offered in order of preference; the server's choice
	// is Conn.Subprotocol.
	Subprotocols []string
	// TLS configures wss://. Nil: system roots; an empty ServerName is
	// taken from the URL. See package tlsconfig for a CA file.
	TLS *tls.Config
	// Compression configures permessage-deflate.
	Compression Compression
	// ReadBufferSize is the connection's read buffer. Default 4 KiB.
	ReadBufferSize int
	// CloseTimeout bounds the closing handshake. Default 2 s; negative: no
	// wait for the server.
	CloseTimeout time.Duration
	// NetDialer dials TCP. Nil: a zero net.Dialer.
	NetDialer *net.Dialer
}

// Dial connects and performs the WebSocket handshake within ctx. It
// returns a *Conn.
func (d Dialer) Dial(ctx context.Context) (getty.Conn, error) {
	c, err := d.DialConn(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialConn is Dial returning the concrete connection.
func (d Dialer) DialConn(ctx context.Context) (*Conn, error) {
	u, err := url.Parse(d.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: ws: bad URL: %w", getty.ErrInvalidOptions, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("%w: ws: URL scheme %q is not ws or wss", getty.ErrInvalidOptions, u.Scheme)
	}
	comp, err := d.Compression.withDefaults()
	if err != nil {
		return nil, err
	}
	var resp http.Header
	gd := d.upgrader(comp, &resp)
	nc, br, hs, err := gd.Dial(ctx, d.URL)
	if err != nil {
		if nc != nil {
			nc.Close() //nolint:errcheck // the dial failed; its error is returned
		}
		var se gws.StatusError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: HTTP status %d", ErrHandshake, int(se))
		}
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	st, err := clientAccept(hs.Extensions)
	if err != nil {
		nc.Close() //nolint:errcheck // the handshake failed; its error is returned
		return nil, err
	}
	var buffered []byte
	if br != nil {
		// Frames the server sent right behind its handshake response.
		buffered, _ = br.Peek(br.Buffered())
		buffered = append([]byte(nil), buffered...)
		gws.PutReader(br)
	}
	c := newConn(nc, true, d.ReadBufferSize, buffered)
	c.proto = hs.Protocol
	c.deflate = st
	c.comp = comp
	c.resp = resp
	switch {
	case d.CloseTimeout > 0:
		c.closeTO = d.CloseTimeout
	case d.CloseTimeout < 0:
		c.closeTO = 0
	}
	return c, nil
}

// upgrader configures gobwas's dialer; the response headers land in *resp.
func (d Dialer) upgrader(comp Compression, resp *http.Header) gws.Dialer {
	nd := d.NetDialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	gd := gws.Dialer{
		Protocols: d.Subprotocols,
		NetDial:   nd.DialContext,
		TLSConfig: d.TLS,
		OnHeader: func(k, v []byte) error {
			if *resp == nil {
				*resp = http.Header{}
			}
			resp.Add(string(k), string(v))
			return nil
		},
	}
	if d.TLS == nil {
		gd.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if len(d.Header) > 0 {
		gd.Header = gws.HandshakeHeaderHTTP(d.Header)
	}
	if comp.Enabled {
		gd.Extensions = clientOffers()
	}
	return gd
}
