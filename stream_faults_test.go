package getty_test

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/tcp"
)

// dialEnv opens a client connection of env's transport (TLS included) to l,
// for a test to drive by hand.
func dialEnv(t *testing.T, env *testutil.Env, l getty.Listener) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := env.Dialer(l.Addr().String()).Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nc, ok := c.(net.Conn)
	if !ok {
		t.Fatalf("%T is not a stream", c)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// TestSplitAtEveryByte sends packages one byte per write over every stream
// transport and engine (without Nagle's delay, most bytes reach the server
// in reads of their own): every package is reassembled from its pieces
// across reads and comes back whole and in order.
func TestSplitAtEveryByte(t *testing.T) {
	for _, tr := range testutil.Streams() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			env := tr.Setup(t)
			rec := newRecorder(t, true)
			_, l := serve(t, env, rec, nil)
			c := dialEnv(t, env, l)
			want := [][]byte{[]byte("alpha"), nil, payload(1, 300), {0}}
			var stream []byte
			for _, p := range want {
				stream = append(stream, frame(p)...)
			}
			go func() {
				for i := range stream {
					if _, err := c.Write(stream[i : i+1]); err != nil {
						t.Errorf("write byte %d: %v", i, err)
						return
					}
				}
			}()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for i, w := range want {
				p, err := readFrame(c)
				if err != nil || string(p) != string(w) {
					t.Fatalf("package %d: %d bytes, %v", i, len(p), err)
				}
			}
			t.Logf("%d bytes in %d one-byte writes: %d packages echoed", len(stream), len(stream), len(want))
		})
	}
}

// TestPeerResetsDuringQueuedWrites: the server queues more than the socket
// buffers hold for a peer that never reads, then the peer resets the
// connection. The session ends with the reset, OnClose runs once, and the
// server goes on serving.
func TestPeerResetsDuringQueuedWrites(t *testing.T) {
	forEngines(t, testPeerResetsDuringQueuedWrites)
}

func testPeerResetsDuringQueuedWrites(t *testing.T, env *testutil.Env) {
	started := make(chan *getty.Session[[]byte], 2)
	rec := newRecorder(t, true)
	rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	s := <-started
	chunk := payload(2, 64<<10)
	for i := 0; i < 64 && s.Stats().Backlog < 1<<20; i++ {
		if err := s.Write(chunk); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if b := s.Stats().Backlog; b == 0 {
		t.Fatal("nothing queued: the socket buffers took everything")
	}
	c.(*net.TCPConn).SetLinger(0) // close sends RST
	c.Close()
	cause, _ := rec.waitClosed(t)
	if !errors.Is(cause, syscall.ECONNRESET) && !errors.Is(cause, syscall.EPIPE) {
		t.Errorf("cause %v, want a reset", cause)
	}
	if err := s.Write(chunk); !errors.Is(err, getty.ErrSessionClosed) {
		t.Errorf("write after the reset: %v", err)
	}
	// Another client is still served.
	c2 := dialRaw(t, l)
	<-started
	if _, err := c2.Write(frame([]byte("still here"))); err != nil {
		t.Fatal(err)
	}
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if p, err := readFrame(c2); err != nil || string(p) != "still here" {
		t.Fatalf("echo after the reset: %q %v", p, err)
	}
	rec.checkClosedOnceEventually(t, 1)
}

// checkClosedOnceEventually waits until n sessions have closed, then checks
// that none closed twice.
func (r *recorder) checkClosedOnceEventually(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		closed := len(r.closes)
		r.mu.Unlock()
		if closed >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, k := range r.closes {
		if k != 1 {
			t.Errorf("session %d: OnClose ran %d times", id, k)
		}
	}
}

// TestHalfCloseGetsReplies: a peer that sends packages and shuts its
// sending side still gets every reply before the session ends (on EOF the
// session finishes dispatching, flushes and closes).
func TestHalfCloseGetsReplies(t *testing.T) { forEngines(t, testHalfCloseGetsReplies) }

func testHalfCloseGetsReplies(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	var out []byte
	for i := range 5 {
		out = append(out, frame(payload(i, 1000*i))...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range 5 {
		if p, err := readFrame(c); err != nil || string(p) != string(payload(i, 1000*i)) {
			t.Fatalf("reply %d: %d bytes, %v", i, len(p), err)
		}
	}
	if cause, errs := rec.waitClosed(t); !errors.Is(cause, io.EOF) || len(errs) != 0 {
		t.Fatalf("cause %v, errors %v", cause, errs)
	}
}

// TestTLSStallsMidHandshake: a peer that sends part of a ClientHello and
// stalls is cut off at HandshakeTimeout (counted as a failed handshake),
// while a real TLS client is served meanwhile and afterwards.
func TestTLSStallsMidHandshake(t *testing.T) {
	certs := testutil.NewCerts(t)
	l, err := tcp.Listen("127.0.0.1:0", &tcp.Config{TLS: certs.Server})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t, true)
	srv, err := getty.NewServer(lengthfield.Codec{}, getty.Handler[[]byte](rec),
		&getty.ServerOptions{Options: getty.Options{HandshakeTimeout: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		<-served
	}()
	stalled := make([]net.Conn, 3)
	for i := range stalled {
		stalled[i] = dialRaw(t, l)
		stalled[i].Write(clientHello[:5+i]) // a record header and a few bytes of the hello
	}
	env := &testutil.Env{Dialer: func(addr string) getty.Dialer { return tcp.Dialer{Addr: addr, Config: tcp.Config{TLS: certs.Client}} }}
	start := time.Now()
	good := dialEnv(t, env, l)
	good.SetDeadline(time.Now().Add(5 * time.Second))
	good.Write(frame([]byte("through")))
	if p, err := readFrame(good); err != nil || string(p) != "through" {
		t.Fatalf("a TLS client beside the stalled ones: %q %v", p, err)
	}
	for i, c := range stalled {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("stalled peer %d got data", i)
		} else if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("stalled peer %d was never cut off", i)
		}
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("stalled peers cut off after %v, before HandshakeTimeout", took)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().HandshakeFailed < uint64(len(stalled)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := srv.Stats().HandshakeFailed; got != uint64(len(stalled)) {
		t.Errorf("HandshakeFailed %d, want %d", got, len(stalled))
	}
}
