package ws_test

import (
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

func TestBadInput(t *testing.T) {
	t.Parallel()
	huge := []byte{0x82, 0xff}
	huge = binary.BigEndian.AppendUint64(huge, 1<<63)
	huge = append(huge, testMask...)
	big := []byte{0x82, 0xff}
	big = binary.BigEndian.AppendUint64(big, 1<<40) // valid header, over the limit
	big = append(big, testMask...)
	for _, tc := range []struct {
		name    string
		send    []byte
		code    int
		wantErr error
	}{
		{name: "unmasked client frame", send: frame(0x81, []byte("hi"), nil), code: 1002, wantErr: ws.ErrProtocol},
		{name: "reserved opcode", send: frame(0x83, []byte("hi"), testMask), code: 1002, wantErr: ws.ErrProtocol},
		{name: "reserved control opcode", send: frame(0x8b, nil, testMask), code: 1002, wantErr: ws.ErrProtocol},
		{name: "fragmented control frame", send: frame(0x09, []byte("ping"), testMask), code: 1002, wantErr: ws.ErrProtocol},
		{name: "control frame too long", send: frame(0x89, make([]byte, 126), testMask), code: 1002, wantErr: ws.ErrProtocol},
		{name: "rsv bits", send: frame(0xc1, []byte("hi"), testMask), code: 1002, wantErr: ws.ErrProtocol},
		{name: "continuation without start", send: frame(0x80, []byte("hi"), testMask), code: 1002, wantErr: ws.ErrProtocol},
		{name: "new message inside fragmented", send: append(frame(0x01, []byte("a"), testMask), frame(0x81, []byte("b"), testMask)...), code: 1002, wantErr: ws.ErrProtocol},
		{name: "invalid utf-8 text", send: frame(0x81, []byte{0xff, 0xfe, 'a'}, testMask), code: 1007, wantErr: ws.ErrInvalidUTF8},
		{name: "invalid utf-8 across fragments", send: append(frame(0x01, []byte{0xe2, 0x82}, testMask), frame(0x80, []byte{0x28}, testMask)...), code: 1007, wantErr: ws.ErrInvalidUTF8},
		{name: "2^63 length", send: huge, code: 1002, wantErr: ws.ErrProtocol},
		{name: "2^40 length", send: big, code: 1009, wantErr: getty.ErrMessageTooLarge},
		{name: "close with bad code", send: frame(0x88, closePayload(1005, ""), testMask), code: 1002, wantErr: ws.ErrProtocol},
		{name: "close with code 999", send: frame(0x88, closePayload(999, ""), testMask), code: 1002, wantErr: ws.ErrProtocol},
		{name: "close with one byte", send: frame(0x88, []byte{3}, testMask), code: 1002, wantErr: ws.ErrProtocol},
		{name: "close reason not utf-8", send: frame(0x88, closePayload(1000, "\xff"), testMask), code: 1007, wantErr: ws.ErrInvalidUTF8},
		{name: "non-minimal length", send: append([]byte{0x82, 0x80 | 126, 0, 5}, append(testMask, 1, 2, 3, 4, 5)...), code: 1002, wantErr: ws.ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			es := startEcho(t, &ws.Config{CloseTimeout: time.Second}, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: 1 << 20}})
			rc := dialRaw(t, es.url)
			if !rc.upgraded() {
				t.Fatalf("status %d", rc.resp.StatusCode)
			}
			rc.send(tc.send)
			code, reason := rc.readClose()
			if code != tc.code {
				t.Fatalf("close code %d (%q), want %d", code, reason, tc.code)
			}
			rc.send(frame(0x88, closePayload(code, ""), testMask))
			err := es.waitClosed(t)
			var ce *ws.CloseError
			if !errors.As(err, &ce) || !errors.Is(err, tc.wantErr) || int(ce.Code) != tc.code {
				t.Fatalf("cause %v, want CloseError %d wrapping %v", err, tc.code, tc.wantErr)
			}
		})
	}
}

// A peer that sends half a frame and stalls is closed by the read timeout;
// the oversized-header case above shows nothing was allocated for it.
func TestHalfFrameStall(t *testing.T) {
	t.Parallel()
	es := startEcho(t, &ws.Config{CloseTimeout: time.Second}, &getty.ServerOptions{Options: getty.Options{ReadTimeout: 300 * time.Millisecond}})
	rc := dialRaw(t, es.url)
	f := frame(0x82, make([]byte, 1000), testMask)
	rc.send(f[:500])
	code, reason := rc.readClose()
	if code != 1001 {
		t.Fatalf("close %d %q, want 1001", code, reason)
	}
	if err := es.waitClosed(t); !errors.Is(err, getty.ErrReadTimeout) {
		t.Fatalf("cause %v", err)
	}
}

// Announcing huge frames on many connections must not reserve memory for
// them.
func TestAnnouncedSizeNotAllocated(t *testing.T) {
	t.Parallel()
	es := startEcho(t, &ws.Config{CloseTimeout: time.Second}, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: 64 << 20}})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const conns = 50
	hdr := []byte{0x82, 0xff}
	hdr = binary.BigEndian.AppendUint64(hdr, 60<<20)
	hdr = append(hdr, testMask...)
	var rcs []*rawClient
	for range conns {
		rc := dialRaw(t, es.url)
		rc.send(append(hdr, make([]byte, 100)...))
		rcs = append(rcs, rc)
	}
	// Round-trip a ping on a fresh connection so the server has read the
	// headers of the others (they were sent first).
	probe := dialRaw(t, es.url)
	probe.send(frame(0x89, []byte("x"), testMask))
	if b0, _, err := probe.readFrame(); err != nil || b0&0x0f != 0xa {
		t.Fatalf("pong: %x %v", b0, err)
	}
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 32<<20 {
		t.Fatalf("heap grew %d MiB for %d stalled 60 MiB frames", grown>>20, conns)
	}
	for _, rc := range rcs {
		rc.conn.Close()
	}
}
