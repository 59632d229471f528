package ws_test

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

// The framing conformance suite: the cases of the Autobahn test suite's
// sections 1-7, 9 and 10 (numbered after it where a case has an Autobahn
// twin), sent by a raw-frame client to a getty echo server. For every case
// the client reads what getty sends back up to and including getty's close
// frame, checks the frames and the close status, and then checks that getty
// closed the TCP connection and that the server session's cause is a
// *ws.CloseError matching the expected sentinel with errors.Is.

// abCase is one conformance case.
type abCase struct {
	name string
	send [][]byte // written in order, each with its own write(s)
	// chop splits every write into writes of this many bytes; 1 also sends
	// the upgrade request one byte per write.
	chop int
	// want are the frames getty must send before its close frame.
	want []wantFrame
	// closes: the client's own close frame is in send; otherwise, for a
	// case that expects no error (code 0), the runner closes with 1000
	// once everything is sent.
	closes bool
	// code is the status of getty's close frame; 0 means 1000.
	code int
	// err must match the server session's cause; nil means io.EOF.
	err error
	// causeCode is the Code of the session's CloseError when it differs
	// from code (1005: the peer's close frame had no status).
	causeCode int
}

type wantFrame struct {
	b0 byte
	p  []byte
}

// m builds a masked client frame.
func m(b0 byte, p []byte) []byte { return frame(b0, p, testMask) }

// ms builds a masked client frame from a string.
func ms(b0 byte, s string) []byte { return m(b0, []byte(s)) }

func text(s string) wantFrame   { return wantFrame{0x81, []byte(s)} }
func binMsg(p []byte) wantFrame { return wantFrame{0x82, p} }
func pong(s string) wantFrame   { return wantFrame{0x8a, []byte(s)} }

// masked returns a masked frame header announcing n payload bytes, with no
// payload.
func maskedHeader(b0 byte, n uint64) []byte {
	h := []byte{b0, 0x80 | 127}
	h = binary.BigEndian.AppendUint64(h, n)
	return append(h, testMask...)
}

// fragments splits p into masked frames of size bytes: the first with op,
// the others continuations, FIN on the last.
func fragments(op byte, p []byte, size int) []byte {
	var out []byte
	first := true
	for {
		n := min(size, len(p))
		b0 := byte(0)
		if first {
			b0 = op
		}
		if n == len(p) {
			b0 |= 0x80
		}
		out = append(out, m(b0, p[:n])...)
		p = p[n:]
		first = false
		if len(p) == 0 {
			return out
		}
	}
}

// textOf is n bytes of valid UTF-8 mixing one- and two-byte runes, so that
// fragment boundaries cut runes.
func textOf(n int) []byte {
	b := bytes.Repeat([]byte("κόσμε-"), n/11+1)[:n]
	for !utf8.Valid(b) {
		b = b[:len(b)-1] // drop a cut rune
	}
	return append(b, bytes.Repeat([]byte("*"), n-len(b))...)
}

func binOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// runSection runs cases one after the other against one echo server whose
// MaxPackageSize is max, and logs the count.
func runSection(t *testing.T, section string, max int, cases []abCase) {
	t.Helper()
	runSectionWith(t, section, &ws.Config{CloseTimeout: 2 * time.Second}, max, "", cases)
}

// runSectionWith is runSection with a server configuration and an extra
// upgrade request header line.
func runSectionWith(t *testing.T, section string, cfg *ws.Config, max int, header string, cases []abCase) {
	t.Helper()
	es := startEcho(t, cfg, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: max}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, es, header, c) })
	}
	t.Logf("Autobahn section %s: %d cases", section, len(cases))
}

func runCase(t *testing.T, es *echoServer, header string, c abCase) {
	var extra []string
	if header != "" {
		extra = append(extra, header)
	}
	rc := dialRawChop(t, es.url, c.chop == 1, extra...)
	if !rc.upgraded() {
		t.Fatalf("upgrade status %d", rc.resp.StatusCode)
	}
	rc.conn.SetDeadline(time.Now().Add(10 * time.Second))
	for _, b := range c.send {
		if c.chop > 0 {
			rc.sendChopped(b, c.chop)
		} else {
			rc.send(b)
		}
	}
	clientClosed := c.closes
	if c.code == 0 && !c.closes {
		rc.send(m(0x88, closePayload(1000, "")))
		clientClosed = true
	}
	code := c.code
	if code == 0 {
		code = 1000
	}

	// Everything getty sends, up to its close frame.
	var got []wantFrame
	gotCode := -1
	for gotCode < 0 {
		b0, p, err := rc.readFrame()
		if err != nil {
			t.Fatalf("no close frame from getty (after %d frames): %v", len(got), err)
		}
		if b0 == 0x88 {
			gotCode = 1005
			if len(p) >= 2 {
				gotCode = int(binary.BigEndian.Uint16(p))
			}
			continue
		}
		got = append(got, wantFrame{b0, p})
	}
	if gotCode != code {
		t.Errorf("getty closed with %d, want %d", gotCode, code)
	}
	if len(got) != len(c.want) {
		t.Errorf("getty sent %d frames before its close, want %d", len(got), len(c.want))
	}
	for i := range min(len(got), len(c.want)) {
		if got[i].b0 != c.want[i].b0 || !bytes.Equal(got[i].p, c.want[i].p) {
			t.Errorf("frame %d: %#x %d bytes %.40q, want %#x %d bytes %.40q", i, got[i].b0, len(got[i].p), got[i].p, c.want[i].b0, len(c.want[i].p), c.want[i].p)
		}
	}
	if !clientClosed {
		// Answer getty's close, as a client does; getty may already have
		// closed, so a failed write is fine.
		rc.conn.Write(m(0x88, closePayload(code, ""))) //nolint:errcheck // see above
	}
	// getty then closes TCP: nothing more arrives, then end of stream.
	n, err := io.Copy(io.Discard, rc.br)
	if n != 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after the close frame: %d more bytes, %v; want the end of the stream", n, err)
	}

	// A client closes its side once the server's is closed (RFC 6455
	// 7.1.1); a server that broke off parsing waits for that.
	rc.conn.Close()
	cause := es.waitClosed(t)
	var ce *ws.CloseError
	wantErr := c.err
	if wantErr == nil {
		wantErr = io.EOF
	}
	causeCode := c.causeCode
	if causeCode == 0 {
		causeCode = code
	}
	if !errors.As(cause, &ce) || int(ce.Code) != causeCode || !errors.Is(cause, wantErr) {
		t.Errorf("session cause %v, want a CloseError %d matching %v", cause, causeCode, wantErr)
	} else if local := !clientClosed; ce.Local != local {
		t.Errorf("session cause %v: Local %v, want %v", cause, ce.Local, local)
	}
}

// fail is a case where getty must close with code, its session cause
// matching err.
func fail(name string, code int, err error, send ...[]byte) abCase {
	return abCase{name: name, send: send, code: code, err: err}
}

func TestAutobahn1Framing(t *testing.T) {
	t.Parallel()
	var cases []abCase
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		p := textOf(n)
		cases = append(cases, abCase{name: fmt.Sprintf("1.1 text %d", n), send: [][]byte{m(0x81, p)}, want: []wantFrame{{0x81, p}}})
	}
	p := textOf(65536)
	cases = append(cases, abCase{name: "1.1.8 text 65536 in 997-byte writes", send: [][]byte{m(0x81, p)}, chop: 997, want: []wantFrame{{0x81, p}}})
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		p := binOf(n)
		cases = append(cases, abCase{name: fmt.Sprintf("1.2 binary %d", n), send: [][]byte{m(0x82, p)}, want: []wantFrame{binMsg(p)}})
	}
	p = binOf(65536)
	cases = append(cases, abCase{name: "1.2.8 binary 65536 in 997-byte writes", send: [][]byte{m(0x82, p)}, chop: 997, want: []wantFrame{binMsg(p)}})
	// Length encodings that are not minimal (RFC 6455 5.2: "the minimal
	// number of bytes MUST be used").
	cases = append(cases,
		fail("16-bit length for 5 bytes", 1002, ws.ErrProtocol, cat([]byte{0x82, 0x80 | 126, 0, 5}, testMask, []byte{1, 2, 3, 4, 5})),
		fail("64-bit length for 5 bytes", 1002, ws.ErrProtocol, cat([]byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 5}, testMask, []byte{1, 2, 3, 4, 5})),
	)
	runSection(t, "1", 1<<20, cases)
}

func TestAutobahn2PingPong(t *testing.T) {
	t.Parallel()
	bin := []byte{0, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0}
	p125 := strings.Repeat("\xfe", 125)
	var tenPings [][]byte
	var tenPongs []wantFrame
	for i := range 10 {
		s := fmt.Sprintf("payload-%d", i)
		tenPings = append(tenPings, ms(0x89, s))
		tenPongs = append(tenPongs, pong(s))
	}
	cases := []abCase{
		{name: "2.1 ping without payload", send: [][]byte{m(0x89, nil)}, want: []wantFrame{pong("")}},
		{name: "2.2 ping with text payload", send: [][]byte{ms(0x89, "Hello, world!")}, want: []wantFrame{pong("Hello, world!")}},
		{name: "2.3 ping with binary payload", send: [][]byte{m(0x89, bin)}, want: []wantFrame{pong(string(bin))}},
		{name: "2.4 ping with 125 bytes", send: [][]byte{ms(0x89, p125)}, want: []wantFrame{pong(p125)}},
		fail("2.5 ping with 126 bytes", 1002, ws.ErrProtocol, m(0x89, make([]byte, 126))),
		{name: "2.6 ping with 125 bytes, one byte per write", send: [][]byte{ms(0x89, p125)}, chop: 1, want: []wantFrame{pong(p125)}},
		{name: "2.7 unsolicited pong without payload", send: [][]byte{m(0x8a, nil)}},
		{name: "2.8 unsolicited pong with payload", send: [][]byte{ms(0x8a, "unsolicited pong payload")}},
		{name: "2.9 unsolicited pong, then ping", send: [][]byte{ms(0x8a, "unsolicited pong payload"), ms(0x89, "ping payload")}, want: []wantFrame{pong("ping payload")}},
		{name: "2.10 ten pings", send: [][]byte{cat(tenPings...)}, want: tenPongs},
		{name: "2.11 ten pings, frame-wise writes", send: tenPings, want: tenPongs},
		{name: "ping then text", send: [][]byte{ms(0x89, "p"), ms(0x81, "after")}, want: []wantFrame{pong("p"), text("after")}},
		fail("ping with 64-bit length 126", 1002, ws.ErrProtocol, cat(maskedHeader(0x89, 126), make([]byte, 126))),
	}
	runSection(t, "2", 1<<20, cases)
}

func TestAutobahn3ReservedBits(t *testing.T) {
	t.Parallel()
	hello := ms(0x81, "Hello, world!")
	echo := text("Hello, world!")
	ping := ms(0x89, "")
	cases := []abCase{
		fail("3.1 text with RSV=1", 1002, ws.ErrProtocol, ms(0x81|0x10, "Hello, world!")),
		{name: "3.2 text, text with RSV=2, ping", send: [][]byte{cat(hello, ms(0x81|0x20, "Hello, world!"), ping)}, want: []wantFrame{echo}, code: 1002, err: ws.ErrProtocol},
		{name: "3.3 text, text with RSV=3, ping, frame-wise", send: [][]byte{hello, ms(0x81|0x30, "Hello, world!"), ping}, want: []wantFrame{echo}, code: 1002, err: ws.ErrProtocol},
		{name: "3.4 text, text with RSV=4, ping, one byte per write", send: [][]byte{hello, ms(0x81|0x40, "Hello, world!"), ping}, chop: 1, want: []wantFrame{echo}, code: 1002, err: ws.ErrProtocol},
		fail("3.5 binary with RSV=5", 1002, ws.ErrProtocol, m(0x82|0x50, binOf(8))),
		fail("3.6 ping with RSV=6", 1002, ws.ErrProtocol, ms(0x89|0x60, "Hello, world!")),
		fail("3.7 close with RSV=7", 1002, ws.ErrProtocol, m(0x88|0x70, closePayload(1000, ""))),
		fail("continuation with RSV=1", 1002, ws.ErrProtocol, ms(0x01, "a"), ms(0x80|0x40, "b")),
	}
	runSection(t, "3", 1<<20, cases)
}

// With permessage-deflate negotiated, RSV1 marks the first frame of a
// compressed message; anywhere else it is still a protocol error.
func TestAutobahn3ReservedBitsDeflate(t *testing.T) {
	t.Parallel()
	hello := deflateMessage(t, []byte("Hello, world!"))
	cases := []abCase{
		{name: "compressed text", send: [][]byte{m(0xc1, hello)}, want: []wantFrame{text("Hello, world!")}},
		{name: "compressed text in 2 fragments", send: [][]byte{cat(m(0x41, hello[:3]), m(0x80, hello[3:]))}, want: []wantFrame{text("Hello, world!")}},
		fail("RSV1 on a continuation", 1002, ws.ErrProtocol, m(0x41, hello[:3]), m(0xc0, hello[3:])),
		fail("RSV1 on a ping", 1002, ws.ErrProtocol, ms(0xc9, "x")),
		fail("RSV1 on a close", 1002, ws.ErrProtocol, m(0xc8, closePayload(1000, ""))),
		fail("RSV2 on compressed text", 1002, ws.ErrProtocol, m(0xe1, hello)),
		fail("compressed data that does not inflate", 1007, getty.ErrBadPackage, m(0xc2, []byte{0xff, 0xff, 0xff, 0xff})),
		fail("compressed text inflating to invalid UTF-8", 1007, ws.ErrInvalidUTF8, m(0xc1, deflateMessage(t, []byte("ok\xed\xa0\x80")))),
	}
	runSectionWith(t, "3 (permessage-deflate)", &ws.Config{CloseTimeout: 2 * time.Second, Compression: ws.Compression{Enabled: true}},
		1<<20, "Sec-WebSocket-Extensions: permessage-deflate", cases)
}

func TestAutobahn4Opcodes(t *testing.T) {
	t.Parallel()
	hello := ms(0x81, "Hello, world!")
	echo := text("Hello, world!")
	ping := ms(0x89, "")
	var cases []abCase
	for i, op := range []byte{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		group := "4.1"
		if op > 7 {
			group = "4.2"
		}
		num := i%5 + 1
		name := fmt.Sprintf("%s.%d opcode %#x", group, num, op)
		switch num {
		case 1:
			cases = append(cases, fail(name, 1002, ws.ErrProtocol, m(0x80|op, nil)))
		case 2:
			cases = append(cases, fail(name+" with payload", 1002, ws.ErrProtocol, ms(0x80|op, "reserved opcode payload")))
		case 3:
			cases = append(cases, abCase{name: name + " after text, then ping", send: [][]byte{cat(hello, m(0x80|op, nil), ping)}, want: []wantFrame{echo}, code: 1002, err: ws.ErrProtocol})
		case 4:
			cases = append(cases, abCase{name: name + " with payload after text, frame-wise", send: [][]byte{hello, ms(0x80|op, "reserved"), ping}, want: []wantFrame{echo}, code: 1002, err: ws.ErrProtocol})
		case 5:
			cases = append(cases, abCase{name: name + " after text, one byte per write", send: [][]byte{hello, ms(0x80|op, "reserved"), ping}, chop: 1, want: []wantFrame{echo}, code: 1002, err: ws.ErrProtocol})
		}
	}
	runSection(t, "4", 1<<20, cases)
}

func TestAutobahn5Fragmentation(t *testing.T) {
	t.Parallel()
	f1, f2 := ms(0x01, "fragment1"), ms(0x80, "fragment2")
	both := text("fragment1fragment2")
	ping := ms(0x89, "ping payload")
	var five, fiveWithPings [][]byte
	var fivePongs []wantFrame
	for i := range 5 {
		b0 := byte(0)
		if i == 0 {
			b0 = 0x01
		}
		if i == 4 {
			b0 |= 0x80
		}
		five = append(five, ms(b0, fmt.Sprintf("fragment%d", i+1)))
		fiveWithPings = append(fiveWithPings, five[i], ms(0x89, fmt.Sprintf("pongme %d!", i+1)))
		fivePongs = append(fivePongs, pong(fmt.Sprintf("pongme %d!", i+1)))
	}
	// The last ping follows the last fragment: its pong follows the echo.
	fiveWant := append(append([]wantFrame(nil), fivePongs[:4]...), text("fragment1fragment2fragment3fragment4fragment5"), fivePongs[4])
	contFin := ms(0x80, "fragment1")
	cont := ms(0x00, "fragment1")
	cases := []abCase{
		fail("5.1 ping in 2 fragments", 1002, ws.ErrProtocol, ms(0x09, "fragment1"), ms(0x80, "fragment2")),
		fail("5.2 pong in 2 fragments", 1002, ws.ErrProtocol, ms(0x0a, "fragment1"), ms(0x80, "fragment2")),
		{name: "5.3 text in 2 fragments", send: [][]byte{cat(f1, f2)}, want: []wantFrame{both}},
		{name: "5.4 text in 2 fragments, frame-wise", send: [][]byte{f1, f2}, want: []wantFrame{both}},
		{name: "5.5 text in 2 fragments, one byte per write", send: [][]byte{f1, f2}, chop: 1, want: []wantFrame{both}},
		{name: "5.6 text in 2 fragments, ping between", send: [][]byte{cat(f1, ping, f2)}, want: []wantFrame{pong("ping payload"), both}},
		{name: "5.7 text in 2 fragments, ping between, frame-wise", send: [][]byte{f1, ping, f2}, want: []wantFrame{pong("ping payload"), both}},
		{name: "5.8 text in 2 fragments, ping between, one byte per write", send: [][]byte{f1, ping, f2}, chop: 1, want: []wantFrame{pong("ping payload"), both}},
		fail("5.9 continuation (FIN) without start", 1002, ws.ErrProtocol, cat(contFin, f1, f2)),
		{name: "5.10 continuation (FIN) without start, frame-wise", send: [][]byte{contFin, f1, f2}, code: 1002, err: ws.ErrProtocol},
		{name: "5.11 continuation (FIN) without start, one byte per write", send: [][]byte{contFin, f1, f2}, chop: 1, code: 1002, err: ws.ErrProtocol},
		fail("5.12 continuation (no FIN) without start", 1002, ws.ErrProtocol, cat(cont, f1, f2)),
		{name: "5.13 continuation (no FIN) without start, frame-wise", send: [][]byte{cont, f1, f2}, code: 1002, err: ws.ErrProtocol},
		{name: "5.14 continuation (no FIN) without start, one byte per write", send: [][]byte{cont, f1, f2}, chop: 1, code: 1002, err: ws.ErrProtocol},
		{name: "5.15 text in 2 fragments, then a continuation without start", send: [][]byte{cat(f1, f2, ms(0x00, "fragment3"), ms(0x81, "fragment4"))}, want: []wantFrame{both}, code: 1002, err: ws.ErrProtocol},
		fail("5.16 continuations without start, twice", 1002, ws.ErrProtocol, cat(cont, contFin, f1, f2, cont, contFin, f1, f2)),
		fail("5.17 continuations (FIN) without start, twice", 1002, ws.ErrProtocol, cat(contFin, contFin, f1, f2, contFin, contFin, f1, f2)),
		fail("5.18 new text inside a fragmented text", 1002, ws.ErrProtocol, f1, ms(0x81, "fragment2")),
		{name: "5.19 text in 5 fragments, pings between", send: [][]byte{cat(fiveWithPings...)}, want: fiveWant},
		{name: "5.20 text in 5 fragments, pings between, frame-wise", send: fiveWithPings, want: fiveWant},
		fail("new binary inside a fragmented text", 1002, ws.ErrProtocol, f1, ms(0x82, "x")),
		fail("new binary (no FIN) inside a fragmented binary", 1002, ws.ErrProtocol, ms(0x02, "a"), ms(0x02, "b")),
		fail("close in 2 fragments", 1002, ws.ErrProtocol, m(0x08, closePayload(1000, "")), ms(0x80, "")),
		{name: "binary in 3 fragments", send: [][]byte{fragments(0x02, binOf(300), 100)}, want: []wantFrame{binMsg(binOf(300))}},
		{name: "text in 3 fragments, close between", send: [][]byte{cat(f1, m(0x88, closePayload(1000, "")), f2)}, closes: true},
	}
	// Control frames between the fragments of a big message.
	big := textOf(200 << 10)
	var inter [][]byte
	var interPongs []wantFrame
	for i := 0; i < len(big); i += 50 << 10 {
		b0 := byte(0)
		if i == 0 {
			b0 = 0x01
		}
		end := min(i+50<<10, len(big))
		if end == len(big) {
			b0 |= 0x80
		}
		inter = append(inter, m(b0, big[i:end]))
		if end < len(big) {
			inter = append(inter, ms(0x89, fmt.Sprint(i)), ms(0x8a, "unsolicited"))
			interPongs = append(interPongs, pong(fmt.Sprint(i)))
		}
	}
	cases = append(cases, abCase{name: "text of 200 KiB in 4 fragments, ping and pong between", send: [][]byte{cat(inter...)}, want: append(interPongs, wantFrame{0x81, big})})
	runSection(t, "5", 1<<20, cases)
}

// utf8Cases are Autobahn section 6's sequences: valid texts, and invalid
// ones (overlong forms, surrogates, code points past U+10FFFF, stray
// continuation bytes, truncated runes, bytes that never appear).
var utf8Cases = []struct {
	s     string
	valid bool
}{
	{"Hello-µ@ßöäüàá-UTF-8!!", true},
	{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true}, // κόσμε
	{"\x00", true}, {"\xc2\x80", true}, {"\xe0\xa0\x80", true}, {"\xf0\x90\x80\x80", true},
	{"\x7f", true}, {"\xdf\xbf", true}, {"\xef\xbf\xbf", true}, {"\xf4\x8f\xbf\xbf", true},
	{"\xed\x9f\xbf", true}, {"\xee\x80\x80", true}, {"\xef\xbf\xbd", true}, {"\xef\xbf\xbe", true},
	{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", false},
	{"\xf4\x90\x80\x80", false}, {"\xf7\xbf\xbf\xbf", false}, {"\xf8\x88\x80\x80\x80", false},
	{"\xfc\x84\x80\x80\x80\x80", false}, {"\x80", false}, {"\xbf", false}, {"\x80\xbf\x80", false},
	{"\xc0\x20", false}, {"\xe0\x80", false}, {"\xf0\x80\x80", false}, {"\xce\xba\xe1\xbd", false},
	{"\xfe", false}, {"\xff", false}, {"\xfe\xfe\xff\xff", false}, {"\xc0\xaf", false},
	{"\xe0\x80\xaf", false}, {"\xf0\x80\x80\xaf", false}, {"\xc1\xbf", false}, {"\xe0\x9f\xbf", false},
	{"\xed\xa0\x80", false}, {"\xed\xbf\xbf", false}, {"\xed\xa0\x80\xed\xb0\x80", false},
	{"\xe2\x82\x28", false},
}

// perByte sends p as a text message with one byte per fragment.
func perByte(p []byte) []byte { return fragments(0x01, p, 1) }

func TestAutobahn6UTF8(t *testing.T) {
	t.Parallel()
	hello := []byte("Hello-µ@ßöäüàá-UTF-8!!")
	kosme := []byte("κόσμε")
	cases := []abCase{
		{name: "6.1.1 empty text", send: [][]byte{m(0x81, nil)}, want: []wantFrame{text("")}},
		{name: "6.1.2 three empty fragments", send: [][]byte{cat(m(0x01, nil), m(0x00, nil), m(0x80, nil))}, want: []wantFrame{text("")}},
		{name: "6.1.3 empty, middle, empty fragments", send: [][]byte{cat(m(0x01, nil), ms(0x00, "middle"), m(0x80, nil))}, want: []wantFrame{text("middle")}},
		{name: "6.2.2 split inside a rune", send: [][]byte{cat(m(0x01, hello[:7]), m(0x80, hello[7:]))}, want: []wantFrame{text(string(hello))}},
		{name: "6.2.3 one byte per fragment", send: [][]byte{perByte(hello)}, want: []wantFrame{text(string(hello))}},
		{name: "6.2.4 κόσμε one byte per fragment", send: [][]byte{perByte(kosme)}, want: []wantFrame{text(string(kosme))}},
		{name: "6.2 one byte per fragment, one byte per write", send: [][]byte{perByte(kosme)}, chop: 1, want: []wantFrame{text(string(kosme))}},
		{name: "large text, 1000-byte fragments cutting runes", send: [][]byte{fragments(0x01, textOf(300<<10), 1000)}, want: []wantFrame{{0x81, textOf(300 << 10)}}},
		// Fail fast (6.4): getty must close with 1007 as soon as the bad
		// bytes arrive; the rest of the message is never sent.
		fail("6.4.1 bad code point in the second of 3 fragments", 1007, ws.ErrInvalidUTF8, m(0x01, kosme), ms(0x00, "\xf4\x90\x80\x80")),
		fail("6.4.2 bad continuation of a rune cut by fragments", 1007, ws.ErrInvalidUTF8, m(0x01, cat(kosme, []byte{0xf4})), ms(0x00, "\x90")),
		fail("6.4.3 bad bytes in the second chop of one frame", 1007, ws.ErrInvalidUTF8, chopped(cat(kosme, []byte("\xf4\x90\x80\x80"), []byte("edited")), len(kosme), 4)...),
		fail("6.4.4 bad byte in the second chop of one frame, rune cut", 1007, ws.ErrInvalidUTF8, chopped(cat(kosme, []byte("\xf4\x90\x80\x80edited")), len(kosme)+1, 1)...),
		fail("bad bytes in the first fragment", 1007, ws.ErrInvalidUTF8, ms(0x01, "\xffhello")),
		fail("bad bytes early in a 64 KiB frame", 1007, ws.ErrInvalidUTF8, chopped(cat([]byte("\xc0\xaf"), textOf(64<<10)), 0, 8<<10)...),
		fail("bad bytes in the first fragment, large", 1007, ws.ErrInvalidUTF8, m(0x01, cat(textOf(100<<10), []byte{0xed, 0xa0, 0x80}))),
		fail("rune cut at the end of the message", 1007, ws.ErrInvalidUTF8, cat(m(0x01, kosme), m(0x80, kosme[:3]))),
	}
	for i, u := range utf8Cases {
		p := []byte(u.s)
		if u.valid {
			cases = append(cases,
				abCase{name: fmt.Sprintf("6.x.%d valid %+q", i, u.s), send: [][]byte{m(0x81, p)}, want: []wantFrame{text(u.s)}},
				abCase{name: fmt.Sprintf("6.x.%d valid %+q, one byte per fragment", i, u.s), send: [][]byte{perByte(p)}, want: []wantFrame{text(u.s)}})
			continue
		}
		cases = append(cases,
			fail(fmt.Sprintf("6.x.%d invalid %+q", i, u.s), 1007, ws.ErrInvalidUTF8, m(0x81, p)),
			fail(fmt.Sprintf("6.x.%d invalid %+q, one byte per fragment", i, u.s), 1007, ws.ErrInvalidUTF8, perByte(p)))
	}
	runSection(t, "6", 1<<20, cases)
}

// chopped returns the start of a text frame carrying p cut after n payload
// bytes, then the next k payload bytes: two writes of one frame whose rest
// never comes.
func chopped(p []byte, n, k int) [][]byte {
	f := m(0x81, p)
	hs := len(f) - len(p)
	return [][]byte{f[:hs+n], f[hs+n : hs+n+k]}
}

func TestAutobahn7Close(t *testing.T) {
	t.Parallel()
	closeN := m(0x88, closePayload(1000, ""))
	cases := []abCase{
		{name: "7.1.1 text, then close", send: [][]byte{ms(0x81, "Hello World!")}, want: []wantFrame{text("Hello World!")}},
		{name: "7.1.2 two closes", send: [][]byte{cat(closeN, closeN)}, closes: true},
		{name: "7.1.3 close, then ping", send: [][]byte{cat(closeN, ms(0x89, "x"))}, closes: true},
		{name: "7.1.4 close, then text", send: [][]byte{cat(closeN, ms(0x81, "ignored"))}, closes: true},
		{name: "7.1.5 fragment, close, fragment", send: [][]byte{cat(ms(0x01, "fragment1"), closeN, ms(0x80, "fragment2"))}, closes: true},
		{name: "7.1.6 256 KiB text, close, ping", send: [][]byte{cat(m(0x81, textOf(256<<10)), closeN, ms(0x89, "x"))}, closes: true, want: []wantFrame{{0x81, textOf(256 << 10)}}},
		{name: "7.3.1 close without payload", send: [][]byte{m(0x88, nil)}, closes: true, causeCode: 1005},
		fail("7.3.2 close with 1 byte", 1002, ws.ErrProtocol, m(0x88, []byte{0x03})),
		{name: "7.3.3 close with status 1000", send: [][]byte{closeN}, closes: true},
		{name: "7.3.4 close with status and reason", send: [][]byte{m(0x88, closePayload(1000, "Hello World!"))}, closes: true},
		{name: "7.3.5 close with a 123-byte reason", send: [][]byte{m(0x88, closePayload(1000, strings.Repeat("*", 123)))}, closes: true},
		fail("7.3.6 close with a 124-byte reason", 1002, ws.ErrProtocol, m(0x88, closePayload(1000, strings.Repeat("*", 124)))),
		fail("7.5.1 close reason not UTF-8", 1007, ws.ErrInvalidUTF8, m(0x88, closePayload(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"))),
		{name: "close without payload, one byte per write", send: [][]byte{m(0x88, nil)}, chop: 1, closes: true, causeCode: 1005},
	}
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		c := abCase{name: fmt.Sprintf("7.7 valid status %d echoed", code), send: [][]byte{m(0x88, closePayload(code, ""))}, closes: true, code: code, err: ws.ErrPeerClosed}
		if code == 1000 || code == 1001 {
			c.err = io.EOF
		}
		cases = append(cases, c)
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, fail(fmt.Sprintf("7.9 invalid status %d", code), 1002, ws.ErrProtocol, m(0x88, closePayload(code, ""))))
	}
	runSection(t, "7", 1<<20, cases)
}

func TestAutobahnMasking(t *testing.T) {
	t.Parallel()
	cases := []abCase{
		fail("unmasked text", 1002, ws.ErrProtocol, frame(0x81, []byte("Hello"), nil)),
		fail("unmasked empty binary", 1002, ws.ErrProtocol, frame(0x82, nil, nil)),
		fail("unmasked ping", 1002, ws.ErrProtocol, frame(0x89, []byte("x"), nil)),
		fail("unmasked close", 1002, ws.ErrProtocol, frame(0x88, closePayload(1000, ""), nil)),
		{name: "unmasked continuation after a masked start", send: [][]byte{ms(0x01, "a"), frame(0x80, []byte("b"), nil)}, code: 1002, err: ws.ErrProtocol},
		{name: "text, then unmasked text", send: [][]byte{cat(ms(0x81, "ok"), frame(0x81, []byte("no"), nil))}, want: []wantFrame{text("ok")}, code: 1002, err: ws.ErrProtocol},
		{name: "all-zero mask", send: [][]byte{frame(0x81, []byte("zero mask"), []byte{0, 0, 0, 0})}, want: []wantFrame{text("zero mask")}},
	}
	runSection(t, "masking", 1<<20, cases)
}

func TestAutobahn9Limits(t *testing.T) {
	t.Parallel()
	const max = 4 << 20
	var cases []abCase
	for _, n := range []int{64 << 10, 256 << 10, 1 << 20, max} {
		tp, bp := textOf(n), binOf(n)
		cases = append(cases,
			abCase{name: fmt.Sprintf("9.1 text %d", n), send: [][]byte{m(0x81, tp)}, want: []wantFrame{{0x81, tp}}},
			abCase{name: fmt.Sprintf("9.2 binary %d", n), send: [][]byte{m(0x82, bp)}, want: []wantFrame{binMsg(bp)}})
	}
	tp, bp := textOf(max), binOf(max)
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		cases = append(cases,
			abCase{name: fmt.Sprintf("9.3 text %d in %d-byte fragments", max, size), send: [][]byte{fragments(0x01, tp, size)}, want: []wantFrame{{0x81, tp}}},
			abCase{name: fmt.Sprintf("9.4 binary %d in %d-byte fragments", max, size), send: [][]byte{fragments(0x02, bp, size)}, want: []wantFrame{binMsg(bp)}})
	}
	p := textOf(1 << 20)
	cases = append(cases,
		abCase{name: "9.5 text 1 MiB in 4 KiB writes", send: [][]byte{m(0x81, p)}, chop: 4 << 10, want: []wantFrame{{0x81, p}}},
		abCase{name: "9.6 binary 1 MiB in 1000-byte writes", send: [][]byte{m(0x82, binOf(1<<20))}, chop: 1000, want: []wantFrame{binMsg(binOf(1 << 20))}},
		// Over the limit: refused from the header, with 1009, before the
		// payload is read (or, for the lengths that cannot come, sent).
		fail("binary of MaxPackageSize+1", 1009, getty.ErrMessageTooLarge, m(0x82, binOf(max+1))),
		fail("fragments adding up to MaxPackageSize+1", 1009, getty.ErrMessageTooLarge, fragments(0x02, binOf(max+1), 1<<20)),
		// getty then reads past the refused payload (up to 16 MiB) to
		// find the client's close behind it; none comes, so the closing
		// handshake ends at CloseTimeout.
		fail("announced MaxPackageSize+1, no payload", 1009, getty.ErrMessageTooLarge, maskedHeader(0x82, max+1)),
		fail("announced 2^40, no payload", 1009, getty.ErrMessageTooLarge, maskedHeader(0x82, 1<<40)),
		fail("announced 2^63-1, no payload", 1009, getty.ErrMessageTooLarge, maskedHeader(0x81, 1<<63-1)),
		fail("announced 2^63-1 continuation of a fragment", 1009, getty.ErrMessageTooLarge, ms(0x01, "a"), maskedHeader(0x80, 1<<63-1)),
		// A 64-bit length with its most significant bit set is malformed
		// (RFC 6455 5.2), not merely too big.
		fail("announced 2^63", 1002, ws.ErrProtocol, maskedHeader(0x82, 1<<63)),
		fail("announced 2^64-1", 1002, ws.ErrProtocol, maskedHeader(0x82, 1<<64-1)),
	)
	runSection(t, "9", max, cases)
}

func TestAutobahn10Chopped(t *testing.T) {
	t.Parallel()
	hello := ms(0x81, "Hello")
	cases := []abCase{
		{name: "text, binary and ping, one byte per write", send: [][]byte{cat(hello, m(0x82, binOf(300)), ms(0x89, "p"))}, chop: 1, want: []wantFrame{text("Hello"), binMsg(binOf(300)), pong("p")}},
		{name: "text 4 KiB in fragments of 1300, one byte per write", send: [][]byte{fragments(0x01, textOf(4096), 1300)}, chop: 1, want: []wantFrame{{0x81, textOf(4096)}}},
		{name: "text 65536 in fragments of 1300", send: [][]byte{fragments(0x01, textOf(65536), 1300)}, want: []wantFrame{{0x81, textOf(65536)}}},
		{name: "text 65536 in fragments of 1300, 7-byte writes", send: [][]byte{fragments(0x01, textOf(65536), 1300)}, chop: 7, want: []wantFrame{{0x81, textOf(65536)}}},
		{name: "client close, one byte per write", send: [][]byte{hello, m(0x88, closePayload(1000, "bye"))}, chop: 1, closes: true, want: []wantFrame{text("Hello")}},
		{name: "RSV bits, one byte per write", send: [][]byte{hello, ms(0x81|0x20, "x")}, chop: 1, want: []wantFrame{text("Hello")}, code: 1002, err: ws.ErrProtocol},
		{name: "invalid UTF-8, one byte per write", send: [][]byte{hello, ms(0x81, "ok\xc0\xafok")}, chop: 1, want: []wantFrame{text("Hello")}, code: 1007, err: ws.ErrInvalidUTF8},
		{name: "over the limit, one byte per write", send: [][]byte{hello, maskedHeader(0x82, 2<<20)}, chop: 1, want: []wantFrame{text("Hello")}, code: 1009, err: getty.ErrMessageTooLarge},
	}
	runSection(t, "10", 1<<20, cases)
}

// TestClientRefusesBadServerFrames drives getty's client against a raw
// server: a masked server frame (and other violations) makes the client
// close with the right status, masked as clients must.
func TestClientRefusesBadServerFrames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		send []byte
		code int
		err  error
	}{
		{name: "masked server frame", send: frame(0x81, []byte("masked"), testMask), code: 1002, err: ws.ErrProtocol},
		{name: "reserved opcode", send: frame(0x83, nil, nil), code: 1002, err: ws.ErrProtocol},
		{name: "RSV bit", send: frame(0x81|0x40, []byte("x"), nil), code: 1002, err: ws.ErrProtocol},
		{name: "fragmented ping", send: frame(0x09, nil, nil), code: 1002, err: ws.ErrProtocol},
		{name: "invalid UTF-8", send: frame(0x81, []byte{0xff}, nil), code: 1007, err: ws.ErrInvalidUTF8},
		{name: "announced 2^63-1", send: binary.BigEndian.AppendUint64([]byte{0x82, 127}, 1<<63-1), code: 1009, err: getty.ErrMessageTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			type result struct {
				code   int
				masked bool
				err    error
			}
			res := make(chan result, 1)
			go func() {
				code, masked, err := rawServer(ln, tc.send)
				res <- result{code, masked, err}
			}()
			ctx := t.Context()
			c, err := (ws.Dialer{URL: "ws://" + ln.Addr().String() + "/", CloseTimeout: 2 * time.Second}).DialConn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, rerr := c.ReadMessage(1 << 20)
			var ce *ws.CloseError
			if !errors.As(rerr, &ce) || int(ce.Code) != tc.code || !ce.Local || !errors.Is(rerr, tc.err) {
				t.Errorf("read error %v, want a local CloseError %d matching %v", rerr, tc.code, tc.err)
			}
			if err := c.CloseWithCause(rerr); err != nil {
				t.Errorf("close: %v", err)
			}
			r := <-res
			if r.err != nil || r.code != tc.code || !r.masked {
				t.Errorf("server got close %d (masked %v, %v), want a masked close %d", r.code, r.masked, r.err, tc.code)
			}
		})
	}
}

// rawServer accepts one connection, answers its upgrade, sends frames and
// returns the status of the client's close frame.
func rawServer(ln net.Listener, frames []byte) (code int, masked bool, err error) {
	nc, err := ln.Accept()
	if err != nil {
		return 0, false, err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return 0, false, err
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	if _, err := nc.Write(append([]byte(resp), frames...)); err != nil {
		return 0, false, err
	}
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return 0, false, err
		}
		n := int(h[1] & 0x7f)
		if n > 125 {
			return 0, false, fmt.Errorf("client frame of length code %d", n)
		}
		var mask [4]byte
		if h[1]&0x80 != 0 {
			if _, err := io.ReadFull(br, mask[:]); err != nil {
				return 0, false, err
			}
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return 0, false, err
		}
		for i := range p {
			p[i] ^= mask[i%4]
		}
		if h[0]&0x0f == 0x8 {
			if len(p) < 2 {
				return 1005, h[1]&0x80 != 0, nil
			}
			return int(binary.BigEndian.Uint16(p)), h[1]&0x80 != 0, nil
		}
	}
}
