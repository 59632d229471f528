package ws

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/httphead"
)

// memConn is a net.Conn that reads from a buffer and discards writes.
type memConn struct{ r *bytes.Reader }

func (m *memConn) Read(b []byte) (int, error)       { return m.r.Read(b) }
func (m *memConn) Write(b []byte) (int, error)      { return len(b), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{0x82, 0x7e, 0x01, 0x00})
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseHeader(b)
		if err != nil || n == 0 {
			return
		}
		if n > len(b) || n > maxHeaderSize {
			t.Fatalf("header size %d of %d bytes", n, len(b))
		}
		var mask *[4]byte
		if h.masked {
			mask = &h.mask
		}
		enc := appendHeader(nil, h.fin, h.rsv, h.op, int(h.length), mask)
		if !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encoded %x, parsed %x", enc, b[:n])
		}
	})
}

func FuzzParseClose(f *testing.F) {
	f.Add([]byte{0x03, 0xe8, 'o', 'k'})
	f.Add([]byte{0x03})
	f.Add([]byte{0x03, 0xed, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		code, reason, err := parseClose(p)
		if err != nil {
			return
		}
		if code != StatusNoStatus && !code.validWire() {
			t.Fatalf("accepted code %d", code)
		}
		if code != StatusNoStatus && len(p) <= maxControlPayload {
			got := appendClosePayload(nil, code, reason)
			if !bytes.Equal(got, p) {
				t.Fatalf("round trip %x -> %x", p, got)
			}
		}
	})
}

// FuzzReadMessage feeds arbitrary bytes to a server-side connection (with
// and without compression): it must never panic, never return more than
// max bytes, and every error must be final.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1}, false)
	f.Add([]byte{0xc1, 0x80, 0, 0, 0, 0}, true)
	f.Add([]byte{0x01, 0x81, 0, 0, 0, 0, 'a', 0x89, 0x80, 0, 0, 0, 0, 0x80, 0x81, 0, 0, 0, 0, 'b'}, false)
	f.Add([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}, false)
	f.Fuzz(func(t *testing.T, in []byte, deflate bool) {
		c := newConn(&memConn{r: bytes.NewReader(in)}, false, 256, nil)
		c.deflate.on = deflate
		c.comp, _ = Compression{Enabled: deflate}.withDefaults()
		const max = 4096
		var first error
		for range 64 {
			m, err := c.ReadMessage(max)
			if err != nil {
				if first == nil {
					first = err
				} else if err != first { //nolint:errorlint // a read error must repeat as the very same value
					t.Fatalf("error changed: %v then %v", first, err)
				}
				var ce *CloseError
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &ce) {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			if len(m.Data) > max {
				t.Fatalf("message of %d bytes over max %d", len(m.Data), max)
			}
		}
		c.CloseWithCause(first)
	})
}

func FuzzNegotiate(f *testing.F) {
	f.Add("permessage-deflate; client_max_window_bits")
	f.Add("permessage-deflate; server_max_window_bits=10, permessage-deflate")
	f.Add("permessage-deflate; server_no_context_takeover; server_no_context_takeover")
	f.Fuzz(func(t *testing.T, header string) {
		opts, ok := httphead.ParseOptions([]byte(header), nil)
		if !ok {
			return
		}
		for _, o := range opts {
			resp, accepted := serverNegotiate(o)
			if !accepted {
				continue
			}
			// What the server answers, a client must accept.
			if _, err := clientAccept([]httphead.Option{resp}); err != nil {
				t.Fatalf("server answer %s refused by the client: %v", resp, err)
			}
		}
		clientAccept(opts) //nolint:errcheck // must only not panic
	})
}
