package ws_test

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

// deflateMessage compresses p the way permessage-deflate sends it.
func deflateMessage(t *testing.T, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	fw.Write(p)
	fw.Flush()
	out := b.Bytes()
	return out[:len(out)-4]
}

func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestSeedBugCompressedReadTimeout reproduces the scenario that made the
// original engine spin and panic: permessage-deflate on, read deadlines
// on, a peer that goes silent. The session must close once, with a timeout,
// and the process must then be idle.
func TestSeedBugCompressedReadTimeout(t *testing.T) {
	// Not parallel: the CPU measurement needs the process to itself.
	es := startEcho(t, &ws.Config{Compression: ws.Compression{Enabled: true, Threshold: -1}, CloseTimeout: time.Second},
		&getty.ServerOptions{Options: getty.Options{ReadTimeout: 300 * time.Millisecond}})
	rc := dialRaw(t, es.url, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover")
	if ext := rc.resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("compression not negotiated: %q", ext)
	}
	msg := []byte(strings.Repeat(`{"user":"ann","text":"hello"}`, 20))
	rc.send(frame(0xc1, deflateMessage(t, msg), testMask)) // FIN, RSV1, text
	b0, p, err := rc.readFrame()
	for err == nil && b0 == 0x89 { // a keepalive ping may come first on a slow machine
		b0, p, err = rc.readFrame()
	}
	if err != nil || b0 != 0xc1 {
		t.Fatalf("echo: %x %v", b0, err)
	}
	if got, err := inflateMessage(p); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo payload: %v", err)
	}
	// Now silent: no data, no pongs. The server pings, then times out.
	var pings int
	var code int
	for code == 0 {
		b0, p, err := rc.readFrame()
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		switch b0 & 0x0f {
		case 0x9:
			pings++
		case 0x8:
			code = int(p[0])<<8 | int(p[1])
		}
	}
	if pings == 0 || code != 1001 {
		t.Fatalf("pings %d, close %d; want pings then 1001", pings, code)
	}
	cause := es.waitClosed(t)
	if !errors.Is(cause, getty.ErrReadTimeout) {
		t.Fatalf("cause %v, want ErrReadTimeout", cause)
	}
	select {
	case err := <-es.closed:
		t.Fatalf("a second close was reported: %v", err)
	default:
	}
	before := cpuTime(t)
	time.Sleep(time.Second) // the measurement window, not synchronisation
	used := cpuTime(t) - before
	t.Logf("CPU over the second after the close: %v", used)
	if used > 200*time.Millisecond {
		t.Fatalf("process used %v of CPU in the idle second after the close: spinning", used)
	}
}

// The same scenario without the engine: a Conn's read error is sticky and
// final, never a panic, however often it is read again.
func TestReadErrorIsFinal(t *testing.T) {
	t.Parallel()
	h, err := ws.NewHandler(&ws.Config{Compression: ws.Compression{Enabled: true, Threshold: -1}, CloseTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &httpServer{ln: ln, h: h}
	hs.start()
	defer hs.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := ws.Dialer{URL: "ws://" + ln.Addr().String() + "/", Compression: ws.Compression{Enabled: true, Threshold: -1}, CloseTimeout: -1}.DialConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sc, err := h.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server := sc.(*ws.Conn)
	defer server.Close()
	if !server.Compressed() || !client.Compressed() {
		t.Fatal("compression not negotiated")
	}
	if err := client.WriteMessages([]getty.Message{{Kind: getty.Text, Data: []byte(strings.Repeat("abc", 100))}}); err != nil {
		t.Fatal(err)
	}
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := server.ReadMessage(1 << 20); err != nil || len(m.Data) != 300 {
		t.Fatalf("read: %d %v", len(m.Data), err)
	}
	server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, first := server.ReadMessage(1 << 20)
	var ne net.Error
	if !errors.As(first, &ne) || !ne.Timeout() {
		t.Fatalf("first error %v, want a timeout", first)
	}
	for range 2000 {
		if _, err := server.ReadMessage(1 << 20); err != first { //nolint:errorlint // the very same error value again
			t.Fatalf("later read returned %v, want the first error again", err)
		}
	}
}

func inflateMessage(p []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(append(p, 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)))
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}
