package ws_test

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/ws"
)

// Pongs count as reads: an idle client that answers pings outlives the
// server's ReadTimeout several times over.
func TestKeepaliveWithPongs(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second // generous: a loaded CI machine can stall a pong for a while
	es := startEcho(t, nil, &getty.ServerOptions{Options: getty.Options{ReadTimeout: timeout}})
	col := newCollector()
	c := dialClient(t, ws.Dialer{URL: es.url}, col, nil)
	s, _ := c.Session()
	conn := s.Conn().(*ws.Conn)
	deadline := time.Now().Add(5 * timeout / 2)
	pings := map[time.Time]bool{}
	for time.Now().Before(deadline) {
		select {
		case err := <-col.closed:
			t.Fatalf("client closed while answering pings: %v", err)
		case err := <-es.closed:
			t.Fatalf("server closed a client that answers pings: %v", err)
		case <-time.After(50 * time.Millisecond):
			// LastPong on the client side is the last ping it heard.
			if p := conn.LastPong(); !p.IsZero() {
				pings[p] = true
			}
		}
	}
	if len(pings) < 2 {
		t.Fatalf("the client heard %d pings in %v", len(pings), 5*timeout/2)
	}
	if err := s.Write(ws.Text("still here")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-col.got:
		if string(m.Data) != "still here" {
			t.Fatalf("got %q", m.Data)
		}
	case err := <-col.closed:
		t.Fatalf("client closed: %v", err)
	case err := <-es.closed:
		t.Fatalf("server closed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no echo within 10 s")
	}
}

// Client-side keepalive: the client pings a silent server too.
func TestClientPingsServer(t *testing.T) {
	t.Parallel()
	es := startEcho(t, nil, nil)
	col := newCollector()
	c := dialClient(t, ws.Dialer{URL: es.url}, col, &getty.ClientOptions{NoReconnect: true, Options: getty.Options{ReadTimeout: time.Second}})
	s, _ := c.Session()
	conn := s.Conn().(*ws.Conn)
	deadline := time.Now().Add(10 * time.Second)
	for conn.LastPong().IsZero() {
		select {
		case err := <-col.closed:
			t.Fatalf("closed: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no pong heard within 10 s")
		}
	}
}

func TestShutdownSendsGoingAway(t *testing.T) {
	t.Parallel()
	srv, err := getty.NewServer[ws.Message](ws.Codec{}, getty.NopHandler[ws.Message]{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ws.Listen("127.0.0.1:0", &ws.Config{Path: "/ws"})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	col := newCollector()
	dialClient(t, ws.Dialer{URL: l.URL()}, col, nil)
	waitSessions(t, srv, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-served
	err = <-col.closed
	var ce *ws.CloseError
	if !errors.As(err, &ce) || ce.Code != ws.StatusGoingAway || !errors.Is(err, io.EOF) {
		t.Fatalf("client cause %v, want 1001 wrapping io.EOF", err)
	}
}

func waitSessions[T any](t *testing.T, srv *getty.Server[T], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		count := 0
		srv.Range(func(*getty.Session[T]) bool { count++; return true })
		if count >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, want %d", count, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A peer that closes with an error status ends the session with a
// CloseError that is reported (it does not wrap io.EOF).
func TestPeerErrorStatus(t *testing.T) {
	t.Parallel()
	es := startEcho(t, nil, nil)
	rc := dialRaw(t, es.url)
	rc.send(frame(0x88, closePayload(4001, "custom"), testMask))
	if code, _ := rc.readClose(); code != 4001 {
		t.Fatalf("echoed close %d", code)
	}
	err := es.waitClosed(t)
	var ce *ws.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "custom" || ce.Local || !errors.Is(err, ws.ErrPeerClosed) || errors.Is(err, io.EOF) {
		t.Fatalf("cause %v", err)
	}
}

func TestOriginAndSubprotocol(t *testing.T) {
	t.Parallel()
	es := startEcho(t, &ws.Config{Subprotocols: []string{"chat.v2", "chat.v1"}, OriginPatterns: []string{"*.example.com"}}, nil)
	host := strings.TrimPrefix(strings.TrimSuffix(es.url, "/"), "ws://")
	for _, tc := range []struct {
		name   string
		origin string
		status int
	}{
		{name: "no origin", status: 101},
		{name: "same origin", origin: "http://" + host, status: 101},
		{name: "allowed", origin: "https://app.example.com", status: 101},
		{name: "foreign", origin: "https://evil.test", status: 403},
		{name: "almost", origin: "https://example.com.evil.test", status: 403},
	} {
		var extra []string
		if tc.origin != "" {
			extra = append(extra, "Origin: "+tc.origin)
		}
		rc := dialRaw(t, es.url, extra...)
		if rc.resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, rc.resp.StatusCode, tc.status)
		}
		rc.conn.Close()
	}
	col := newCollector()
	c := dialClient(t, ws.Dialer{URL: es.url, Subprotocols: []string{"chat.v1", "chat.v2"}}, col, nil)
	s, _ := c.Session()
	if p := s.Conn().(*ws.Conn).Subprotocol(); p != "chat.v1" {
		t.Fatalf("subprotocol %q", p)
	}
	c2 := dialClient(t, ws.Dialer{URL: es.url, Subprotocols: []string{"other"}}, newCollector(), nil)
	s2, _ := c2.Session()
	if p := s2.Conn().(*ws.Conn).Subprotocol(); p != "" {
		t.Fatalf("subprotocol %q, want none", p)
	}
}

// The Handler mounted on a user's mux, with a plain line codec.
func TestHandlerOnUserMux(t *testing.T) {
	t.Parallel()
	h, err := ws.NewHandler(nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &httpServer{ln: ln, h: mux}
	hs.start()
	defer hs.stop()
	srv, err := getty.NewServer[[]byte](delim.Lines(), getty.HandlerFuncs[[]byte]{
		Message: func(s *getty.Session[[]byte], p []byte) { s.Write(bytes.ToUpper(p)) },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(h) }()
	defer func() {
		srv.Close()
		<-served
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := make(chan string, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := getty.Dial[[]byte](ctx, ws.Dialer{URL: "ws://" + ln.Addr().String() + "/ws"}, delim.Lines(),
		getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], p []byte) { got <- string(p) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, _ := c.Session()
	s.Write([]byte("one"))
	s.Write([]byte("two"))
	for _, want := range []string{"ONE", "TWO"} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %q want %q", g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no reply")
		}
	}
}

// A compressed message that inflates past MaxPackageSize is refused (1009)
// without inflating more than the limit: the peak heap, sampled while the
// server works on the bomb, stays within a few times the limit.
//
// Not parallel: the heap is process-wide.
func TestDecompressionBomb(t *testing.T) {
	const max = 2 << 20
	es := startEcho(t, &ws.Config{Compression: ws.Compression{Enabled: true}, CloseTimeout: time.Second},
		&getty.ServerOptions{Options: getty.Options{MaxPackageSize: max}})
	gigabomb := deflateBomb(t, 1<<30) // about 1 MiB on the wire
	for _, tc := range []struct {
		name    string
		expands int    // bytes the message inflates to
		wire    []byte // the frames
	}{
		{name: "16 MiB of zeros", expands: 16 << 20, wire: frame(0xc2, deflateMessage(t, make([]byte, 16<<20)), testMask)},
		{name: "1 GiB of zeros", expands: 1 << 30, wire: frame(0xc2, gigabomb, testMask)},
		{name: "1 GiB of zeros, text", expands: 1 << 30, wire: frame(0xc1, gigabomb, testMask)},
		{name: "1 GiB of zeros in 64 KiB fragments", expands: 1 << 30, wire: compressedFragments(gigabomb, 64<<10)},
	} {
		rc := dialRaw(t, es.url, "Sec-WebSocket-Extensions: permessage-deflate")
		if ext := rc.resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
			t.Fatalf("compression not negotiated: %q", ext)
		}
		heap := testutil.SampleHeap(t)
		rc.send(tc.wire)
		code, _ := rc.readClose()
		rc.conn.Write(frame(0x88, closePayload(code, ""), testMask)) //nolint:errcheck // the server may be gone already
		rc.conn.Close()
		err := es.waitClosed(t)
		peak := heap.Done()
		t.Logf("%-36s %8d wire bytes, inflates to %4d x the cap: peak heap +%d KiB (%.2f x the cap)",
			tc.name, len(tc.wire), tc.expands/max, peak>>10, float64(peak)/max)
		if code != 1009 {
			t.Errorf("%s: close %d, want 1009", tc.name, code)
		}
		if !errors.Is(err, getty.ErrMessageTooLarge) {
			t.Errorf("%s: cause %v", tc.name, err)
		}
		// The compressed message (read whole before inflating), the
		// inflated buffer (at most the cap), the flate reader's state.
		if limit := uint64(len(tc.wire)) + 4*max + 1<<20; peak > limit {
			t.Errorf("%s: peak heap grew %d bytes, limit %d", tc.name, peak, limit)
		}
	}
}

// deflateBomb is a permessage-deflate payload inflating to n zero bytes
// (a multiple of 1 MiB): the compressed, flushed form of the first MiB, then
// that of each following MiB (identical), without the final 00 00 ff ff.
func deflateBomb(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	piece := func() []byte {
		b.Reset()
		fw.Write(zeros)
		fw.Flush()
		return bytes.Clone(b.Bytes())
	}
	first, next := piece(), piece()
	if third := piece(); !bytes.Equal(next, third) {
		t.Fatal("flushed pieces differ: the bomb construction does not hold")
	}
	out := append(make([]byte, 0, len(first)+(n>>20)*len(next)), first...)
	for range n>>20 - 1 {
		out = append(out, next...)
	}
	return out[:len(out)-4]
}

// compressedFragments sends a compressed message as masked fragments of
// size bytes: RSV1 on the first only.
func compressedFragments(p []byte, size int) []byte {
	var out []byte
	for i := 0; i < len(p); i += size {
		b0 := byte(0)
		if i == 0 {
			b0 = 0x42
		}
		end := min(i+size, len(p))
		if end == len(p) {
			b0 |= 0x80
		}
		out = append(out, frame(b0, p[i:end], testMask)...)
	}
	return out
}

func TestWSS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS, _ := testCert(t)
	es := startEcho(t, &ws.Config{TLS: serverTLS, Path: "/secure", Compression: ws.Compression{Enabled: true}}, nil)
	if !strings.HasPrefix(es.url, "wss://") {
		t.Fatalf("url %s", es.url)
	}
	col := newCollector()
	c := dialClient(t, ws.Dialer{URL: es.url, TLS: clientTLS, Compression: ws.Compression{Enabled: true}}, col, nil)
	s, _ := c.Session()
	msg := ws.Text(strings.Repeat("secure ", 200))
	s.Write(msg)
	if m := col.next(t); !bytes.Equal(m.Data, msg.Data) || !m.IsText() {
		t.Fatal("bad echo over wss")
	}
	// A client that does not trust the certificate fails to dial.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := (ws.Dialer{URL: es.url}).Dial(ctx); err == nil {
		t.Fatal("dial without the CA succeeded")
	}
	// Wrong path: 404, a handshake error.
	if _, err := (ws.Dialer{URL: strings.Replace(es.url, "/secure", "/other", 1), TLS: clientTLS}).Dial(ctx); !errors.Is(err, ws.ErrHandshake) {
		t.Fatalf("wrong path: %v", err)
	}
}

// 1,000 concurrent sessions echo with nothing lost.
func TestThousandSessions(t *testing.T) {
	t.Parallel()
	const conns, perConn = 1000, 20
	es := startEcho(t, nil, nil)
	var received atomic.Int64
	var mu sync.Mutex
	seen := make(map[string]bool)
	h := getty.HandlerFuncs[ws.Message]{Message: func(_ *getty.Session[ws.Message], m ws.Message) {
		mu.Lock()
		seen[string(m.Data)] = true
		mu.Unlock()
		received.Add(1)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := getty.Dial[ws.Message](ctx, ws.Dialer{URL: es.url}, ws.Codec{}, h, &getty.ClientOptions{Connections: conns, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Collect distinct sessions as the background dials complete.
	sessions := map[uint64]*getty.Session[ws.Message]{}
	for len(sessions) < conns {
		if ctx.Err() != nil {
			t.Fatalf("only %d sessions", len(sessions))
		}
		s, err := c.Session()
		if err == nil {
			sessions[s.ID()] = s
		}
		if len(sessions) < conns && err == nil && len(sessions)%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	waitSessions(t, es.srv, conns)
	var wg sync.WaitGroup
	for id, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perConn {
				if err := s.Write(ws.Text(fmt.Sprintf("%d-%d", id, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for received.Load() < conns*perConn {
		if ctx.Err() != nil {
			t.Fatalf("received %d of %d", received.Load(), conns*perConn)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != conns*perConn {
		t.Fatalf("%d distinct messages, want %d", len(seen), conns*perConn)
	}
}

// A client that connects and never finishes its upgrade request is dropped
// after HandshakeTimeout.
func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	es := startEcho(t, &ws.Config{HandshakeTimeout: 200 * time.Millisecond}, nil)
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(es.url, "ws://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n") // half a request, then silence
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v (want the server to hang up)", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("hung up after %v", d)
	}
}

// A client reconnects when the server drops its session, like over TCP.
func TestClientReconnects(t *testing.T) {
	t.Parallel()
	es := startEcho(t, nil, nil)
	col := newCollector()
	c := dialClient(t, ws.Dialer{URL: es.url}, col, &getty.ClientOptions{ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	first, _ := c.Session()
	waitSessions(t, es.srv, 1)
	es.srv.Range(func(s *getty.Session[ws.Message]) bool { s.Close(); return true })
	if err := <-col.closed; !errors.Is(err, io.EOF) {
		t.Fatalf("client cause %v, want an orderly close", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := c.Session()
		if err == nil && s.ID() != first.ID() {
			if err := s.Write(ws.Text("again")); err != nil {
				t.Fatal(err)
			}
			if m := col.next(t); string(m.Data) != "again" {
				t.Fatalf("got %q", m.Data)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no new session within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
