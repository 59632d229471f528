package ws_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawClient speaks WebSocket frames by hand, to send what no library would.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	resp *http.Response
}

// dialRaw connects and upgrades with extra request header lines.
func dialRaw(t *testing.T, url string, extra ...string) *rawClient {
	t.Helper()
	return dialRawChop(t, url, false, extra...)
}

// dialRawChop is dialRaw; with chop, the upgrade request goes out one byte
// per write.
func dialRawChop(t *testing.T, url string, chop bool, extra ...string) *rawClient {
	t.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	path := "/"
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		addr, path = addr[:i], addr[i:]
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	rc := &rawClient{t: t, conn: conn, br: bufio.NewReader(conn)}
	if chop {
		rc.sendChopped([]byte(req+"\r\n"), 1)
	} else {
		rc.send([]byte(req + "\r\n"))
	}
	rc.resp, err = http.ReadResponse(rc.br, nil) //nolint:bodyclose // an upgrade response: the connection is the body
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func (rc *rawClient) upgraded() bool { return rc.resp.StatusCode == http.StatusSwitchingProtocols }

// frame builds one frame; mask nil means unmasked.
func frame(b0 byte, payload []byte, mask []byte) []byte {
	var f []byte
	b1 := byte(0)
	if mask != nil {
		b1 = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		f = append(f, b0, b1|byte(n))
	case n <= 0xffff:
		f = append(f, b0, b1|126, byte(n>>8), byte(n))
	default:
		f = append(f, b0, b1|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	if mask == nil {
		return append(f, payload...)
	}
	f = append(f, mask...)
	for i, c := range payload {
		f = append(f, c^mask[i%4])
	}
	return f
}

var testMask = []byte{0x12, 0x34, 0x56, 0x78}

func (rc *rawClient) send(b []byte) {
	rc.t.Helper()
	if _, err := rc.conn.Write(b); err != nil {
		rc.t.Fatal(err)
	}
}

// sendChopped writes b in writes of size bytes.
func (rc *rawClient) sendChopped(b []byte, size int) {
	rc.t.Helper()
	for len(b) > 0 {
		n := min(size, len(b))
		if _, err := rc.conn.Write(b[:n]); err != nil {
			rc.t.Fatal(err)
		}
		b = b[n:]
	}
}

// readFrame reads one (unmasked) server frame.
func (rc *rawClient) readFrame() (b0 byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(rc.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err = io.ReadFull(rc.br, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err = io.ReadFull(rc.br, e[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("masked server frame")
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(rc.br, payload)
	return h[0], payload, err
}

// readClose reads frames until a close frame and returns its status code.
func (rc *rawClient) readClose() (code int, reason string) {
	rc.t.Helper()
	for {
		b0, p, err := rc.readFrame()
		if err != nil {
			rc.t.Fatalf("no close frame: %v", err)
		}
		if b0&0x0f == 0x8 {
			if len(p) < 2 {
				return 1005, ""
			}
			return int(binary.BigEndian.Uint16(p)), string(p[2:])
		}
	}
}

// closePayload builds a close frame payload.
func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}
