package ws_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

// The conformance tests follow the sections of the Autobahn test suite
// (1 framing, 2 pings and pongs, 5 fragmentation, 6 UTF-8, 7 close
// handling, 9 limits, 10 chopped writes) with a raw-frame client; the
// protocol violations of sections 3 (RSV bits), 4 (reserved opcodes) and
// the rest of 5 to 7 are in TestBadInput.

// echoFrames sends frames and expects one echoed message of kind op.
func echoOne(t *testing.T, rc *rawClient, send []byte, op byte, want []byte, oneByteWrites bool) {
	t.Helper()
	if oneByteWrites {
		for i := range send {
			rc.send(send[i : i+1])
		}
	} else {
		rc.send(send)
	}
	b0, p, err := rc.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	if b0 != 0x80|op || !bytes.Equal(p, want) {
		t.Fatalf("echo: opcode %#x, %d bytes; want %#x, %d bytes", b0, len(p), 0x80|op, len(want))
	}
}

func newConformanceClient(t *testing.T) (*echoServer, *rawClient) {
	es := startEcho(t, &ws.Config{CloseTimeout: time.Second}, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: 1 << 20}})
	rc := dialRaw(t, es.url)
	if !rc.upgraded() {
		t.Fatalf("status %d", rc.resp.StatusCode)
	}
	return es, rc
}

// Sections 1, 9 and 10: payload lengths at every length-encoding boundary,
// text and binary, in one write and chopped into one-byte writes.
func TestConformanceFramingLengths(t *testing.T) {
	t.Parallel()
	cases := 0
	for _, n := range []int{0, 1, 125, 126, 127, 128, 65535, 65536, 65537, 1 << 20} {
		for _, op := range []byte{0x1, 0x2} {
			for _, chopped := range []bool{false, true} {
				if chopped && n > 65537 {
					continue // a million one-byte writes prove nothing more
				}
				_, rc := newConformanceClient(t)
				p := []byte(strings.Repeat("*", n))
				echoOne(t, rc, frame(0x80|op, p, testMask), op, p, chopped)
				cases++
			}
		}
	}
	t.Logf("sections 1, 9, 10: %d length/kind/chopping cases echoed", cases)
}

// Section 2: pings are answered with the same payload, unsolicited pongs
// are ignored, and a ping between fragments does not disturb the message.
func TestConformancePings(t *testing.T) {
	t.Parallel()
	for _, payload := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{0xfe}, 125)} {
		_, rc := newConformanceClient(t)
		rc.send(frame(0x89, payload, testMask))
		b0, p, err := rc.readFrame()
		if err != nil || b0 != 0x8a || !bytes.Equal(p, payload) {
			t.Fatalf("ping of %d bytes: answer %#x %d bytes %v", len(payload), b0, len(p), err)
		}
	}
	_, rc := newConformanceClient(t)
	rc.send(frame(0x8a, []byte("unsolicited"), testMask))
	echoOne(t, rc, frame(0x81, []byte("still fine"), testMask), 0x1, []byte("still fine"), false)

	_, rc = newConformanceClient(t)
	var msg []byte
	msg = append(msg, frame(0x01, []byte("frag"), testMask)...)
	msg = append(msg, frame(0x89, []byte("mid"), testMask)...)
	msg = append(msg, frame(0x80, []byte("mented"), testMask)...)
	rc.send(msg)
	b0, p, err := rc.readFrame()
	if err != nil || b0 != 0x8a || string(p) != "mid" {
		t.Fatalf("ping inside a fragmented message: %#x %q %v", b0, p, err)
	}
	b0, p, err = rc.readFrame()
	if err != nil || b0 != 0x81 || string(p) != "fragmented" {
		t.Fatalf("fragmented message: %#x %q %v", b0, p, err)
	}
}

// Section 5: fragmented messages are reassembled, with any number of
// fragments, empty ones included.
func TestConformanceFragmentation(t *testing.T) {
	t.Parallel()
	for _, parts := range [][]string{
		{"a", "b"},
		{"", "", "abc"},
		{"κό", "σμε"},
		{strings.Repeat("x", 70000), "y"},
	} {
		_, rc := newConformanceClient(t)
		var send []byte
		for i, part := range parts {
			b0 := byte(0x00)
			if i == 0 {
				b0 = 0x01
			}
			if i == len(parts)-1 {
				b0 |= 0x80
			}
			send = append(send, frame(b0, []byte(part), testMask)...)
		}
		want := []byte(strings.Join(parts, ""))
		echoOne(t, rc, send, 0x1, want, false)
	}
}

// Section 6: text split inside a multi-byte character is valid; invalid
// text fails fast, at the fragment that holds it, before the message ends.
func TestConformanceUTF8FailFast(t *testing.T) {
	t.Parallel()
	_, rc := newConformanceClient(t)
	// "€" split after its first byte.
	echoOne(t, rc, append(frame(0x01, []byte("price \xe2"), testMask), frame(0x80, []byte("\x82\xac"), testMask)...), 0x1, []byte("price €"), false)

	for _, first := range [][]byte{{0xff}, []byte("ok \xce\xba\xc0"), {0xed, 0xa0}} {
		es, rc := newConformanceClient(t)
		rc.send(frame(0x01, first, testMask)) // not final: the rest never comes
		code, _ := rc.readClose()
		if code != 1007 {
			t.Fatalf("first fragment %q: close %d, want 1007", first, code)
		}
		rc.send(frame(0x88, closePayload(code, ""), testMask))
		es.waitClosed(t)
	}
}

// Section 7: valid close codes are answered with the same code; codes that
// must not be sent are a protocol error (1002); data after a close is
// ignored. (Autobahn, older than the IANA registry, lists 1012-1014 as
// invalid; they are registered now, and accepted.)
func TestConformanceCloseCodes(t *testing.T) {
	t.Parallel()
	valid := []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	invalid := []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
	t.Logf("section 7: %d valid and %d invalid close codes", len(valid), len(invalid))
	for _, code := range valid {
		t.Run(fmt.Sprint("valid ", code), func(t *testing.T) {
			t.Parallel()
			es, rc := newConformanceClient(t)
			rc.send(append(frame(0x88, closePayload(code, "bye"), testMask), frame(0x81, []byte("ignored"), testMask)...))
			if got, _ := rc.readClose(); got != code {
				t.Errorf("close %d answered with %d", code, got)
			}
			es.waitClosed(t)
		})
	}
	for _, code := range invalid {
		t.Run(fmt.Sprint("invalid ", code), func(t *testing.T) {
			t.Parallel()
			es, rc := newConformanceClient(t)
			rc.send(frame(0x88, closePayload(code, ""), testMask))
			if got, _ := rc.readClose(); got != 1002 {
				t.Errorf("invalid close code %d answered with %d, want 1002", code, got)
			}
			es.waitClosed(t)
		})
	}
}
