package getty_test

// Network faults over real loopback sockets, on every stream transport:
// resets in the middle of a read and of a write, half-closes, a peer that
// never reads, and TLS peers that stall in the middle of the handshake.
// docs/reliability.md quotes the figures these tests log.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/tcp"
)

// rawPeer dials l with env's dialer and finishes the TLS handshake if there
// is one: the peer's side is a plain net.Conn the test drives byte by byte.
func rawPeer(t testing.TB, env *testutil.Env, l getty.Listener) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gc, err := env.Dialer(l.Addr().String()).Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := gc.(net.Conn)
	if !ok {
		gc.Close()
		t.Fatalf("dialer returned %T, not a net.Conn", gc)
	}
	t.Cleanup(func() { c.Close() })
	if h, ok := c.(getty.Handshaker); ok {
		if err := h.HandshakeContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// resetClose closes c abortively. TCP (and TLS over it) sends an RST
// (SO_LINGER 0, and no close_notify); a Unix stream socket closed with
// unread data in its receive queue makes the peer's next read or write fail
// with ECONNRESET, which is the closest a Unix socket has to a reset.
func resetClose(t testing.TB, c net.Conn) {
	t.Helper()
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetLinger(0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// roundTrip checks a bystander session still echoes.
func roundTrip(t testing.TB, c net.Conn, p []byte) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(frame(p)); err != nil {
		t.Fatalf("bystander write: %v", err)
	}
	got, err := readFrame(c)
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("bystander echo: %d bytes, %v", len(got), err)
	}
}

// waitFor polls cond (which reads counters) for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sessionsOpen waits until the server holds n sessions.
func sessionsOpen(t testing.TB, srv *getty.Server[[]byte], n int) {
	t.Helper()
	waitFor(t, "the server's session count", func() bool { return srv.Stats().SessionsOpen == int64(n) })
}

// TestFaultResetMidRead resets the connection while a package is half sent:
// the session ends with a reset error, its half package is not delivered,
// OnClose runs once and a bystander session keeps echoing.
func TestFaultResetMidRead(t *testing.T) {
	for _, tr := range testutil.Streams() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			env := tr.Setup(t)
			started := make(chan *getty.Session[[]byte], 2)
			rec := newRecorder(t, true)
			rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
			srv, l := serve(t, env, rec, nil)
			bystander := rawPeer(t, env, l)
			<-started
			roundTrip(t, bystander, []byte("before"))

			const rounds = 5
			for round := range rounds {
				c := rawPeer(t, env, l)
				s := <-started
				// One whole package, whose echo is left unread (a Unix
				// socket closed with unread data resets its peer)...
				if _, err := c.Write(frame([]byte("whole"))); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the echo", func() bool { return s.Stats().PackagesOut == 1 })
				// ...then 600 bytes of a 1,004-byte package, and a reset.
				f := frame(payload(round, 1000))
				if _, err := c.Write(f[:600]); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the half package", func() bool { return s.Stats().BytesIn >= uint64(len(frame([]byte("whole")))+600) })
				resetClose(t, c)
				cause, errs := rec.waitClosed(t)
				if !isReset(cause) {
					t.Errorf("round %d: cause %v, want a reset", round, cause)
				}
				if len(errs) != 1 || !isReset(errs[0]) {
					t.Errorf("round %d: OnError got %v", round, errs)
				}
				if in := s.Stats().PackagesIn; in != 1 {
					t.Errorf("round %d: %d packages delivered, want 1 (the half one must not be)", round, in)
				}
				t.Logf("round %d: cause %v", round, cause)
			}
			roundTrip(t, bystander, []byte("after"))
			sessionsOpen(t, srv, 1)
			rec.mu.Lock()
			closed := len(rec.closes)
			rec.mu.Unlock()
			t.Logf("%s: %d resets mid-read injected, %d sessions closed, bystander intact, %d sessions left open",
				tr.Name, rounds, closed, srv.Stats().SessionsOpen)
		})
	}
}

// TestFaultResetMidWrite resets the connection while the server writes a
// large backlog the peer never reads: the write fails with a reset, the
// session closes once, writers get ErrSessionClosed, and a bystander
// session keeps echoing.
func TestFaultResetMidWrite(t *testing.T) {
	for _, tr := range testutil.Streams() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			env := tr.Setup(t)
			started := make(chan *getty.Session[[]byte], 2)
			rec := newRecorder(t, true)
			rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
			srv, l := serve(t, env, rec, nil)
			bystander := rawPeer(t, env, l)
			<-started

			const rounds = 3
			var queued, refused, failedWrites atomic.Int64
			for round := range rounds {
				c := rawPeer(t, env, l)
				s := <-started
				chunk := payload(round, 64<<10)
				var wg sync.WaitGroup
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						deadline := time.Now().Add(20 * time.Second)
						for time.Now().Before(deadline) {
							err := s.Write(chunk)
							switch {
							case err == nil:
								queued.Add(1)
							case errors.Is(err, getty.ErrWriteQueueFull):
								refused.Add(1)
								time.Sleep(time.Millisecond)
							case errors.Is(err, getty.ErrSessionClosed):
								return
							default:
								// The caller that flushed gets the
								// failed write's *OpError.
								var op *getty.OpError
								if !errors.As(err, &op) || op.Op != "write" {
									t.Errorf("write: %v", err)
								}
								failedWrites.Add(1)
								return
							}
						}
						t.Error("the session never closed")
					}()
				}
				// The kernel buffers are full and the backlog is growing.
				waitFor(t, "a backlog", func() bool { return s.Stats().Backlog > 0 })
				resetClose(t, c)
				cause, errs := rec.waitClosed(t)
				wg.Wait()
				if !isReset(cause) {
					t.Errorf("round %d: cause %v, want a reset", round, cause)
				}
				if len(errs) != 1 || !isReset(errs[0]) {
					t.Errorf("round %d: OnError got %v", round, errs)
				}
				t.Logf("round %d: cause %v, %d bytes written before the reset", round, cause, s.Stats().BytesOut)
			}
			roundTrip(t, bystander, payload(9, 100<<10))
			sessionsOpen(t, srv, 1)
			rec.checkClosedOnceExcept(t, 1)
			t.Logf("%s: %d resets mid-write injected; %d writes queued, %d refused (queue full), %d returned the failed write's error; bystander intact",
				tr.Name, rounds, queued.Load(), refused.Load(), failedWrites.Load())
		})
	}
}

// TestFaultHalfClose: the peer sends packages, then shuts down its write
// side (TCP FIN, TLS close_notify, Unix SHUT_WR) and keeps reading. getty
// treats that EOF as the end of the session but a graceful one: every
// package read before it is handled, the replies already written are
// flushed (within WriteTimeout), then the connection is closed (the peer
// reads EOF after the last reply) and OnClose runs with cause io.EOF.
func TestFaultHalfClose(t *testing.T) {
	for _, tr := range testutil.Streams() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			env := tr.Setup(t)
			rec := newRecorder(t, true)
			srv, l := serve(t, env, rec, nil)
			c := rawPeer(t, env, l)
			// 100 packages of 8 KiB: 800 KiB of replies, more than the
			// socket buffers hold, so writes are still queued at EOF.
			const n, size = 100, 8 << 10
			var all []byte
			for i := range n {
				all = append(all, frame(payload(i, size))...)
			}
			if _, err := c.Write(all); err != nil {
				t.Fatal(err)
			}
			cw, ok := c.(interface{ CloseWrite() error })
			if !ok {
				t.Fatalf("%T has no CloseWrite", c)
			}
			if err := cw.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if err := c.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			got := 0
			for ; got < n; got++ {
				p, err := readFrame(c)
				if err != nil {
					t.Fatalf("reply %d: %v", got, err)
				}
				if !bytes.Equal(p, payload(got, size)) {
					t.Fatalf("reply %d differs", got)
				}
			}
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Errorf("after the last reply: %v, want EOF", err)
			}
			cause, errs := rec.waitClosed(t)
			if !errors.Is(cause, io.EOF) || len(errs) != 0 {
				t.Errorf("cause %v, errors %v; want io.EOF and none", cause, errs)
			}
			sessionsOpen(t, srv, 0)
			rec.checkClosedOnce(t)
			t.Logf("%s: half-close after %d packages: %d replies delivered, data lost 0, cause %v", tr.Name, n, got, cause)
		})
	}
}

// TestFaultNeverReadingPeerHeapFlat throws 100 MiB of writes at a session
// whose peer never reads: the backlog stops at MaxWriteBacklog
// (ErrWriteQueueFull) and the server's heap stays flat.
func TestFaultNeverReadingPeerHeapFlat(t *testing.T) {
	for _, tr := range testutil.Streams() {
		if tr.Name != "tcp" && tr.Name != "unix" {
			continue
		}
		t.Run(tr.Name, func(t *testing.T) {
			// Not parallel: it measures the heap.
			env := tr.Setup(t)
			started := make(chan *getty.Session[[]byte], 1)
			rec := newRecorder(t, false)
			rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
			const backlog = 1 << 20
			_, l := serve(t, env, rec, &getty.ServerOptions{Options: getty.Options{
				MaxWriteBacklog: backlog, WriteTimeout: time.Minute}})
			c := rawPeer(t, env, l)
			s := <-started
			chunk := payload(1, 16<<10)
			const attempts = 100 << 20 / (16 << 10)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			accepted, full := 0, 0
			for i := range attempts {
				err := s.Write(chunk)
				switch {
				case err == nil:
					accepted++
				case errors.Is(err, getty.ErrWriteQueueFull):
					full++
				default:
					t.Fatalf("write %d: %v", i, err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			grow := int64(after.HeapInuse) - int64(before.HeapInuse)
			st := s.Stats()
			t.Logf("%s: %d writes of %d B tried (%d MiB): %d accepted, %d ErrWriteQueueFull; backlog %d B (bound %d); HeapInuse %d -> %d (%+d B)",
				tr.Name, attempts, len(chunk), attempts*len(chunk)>>20, accepted, full, st.Backlog, backlog,
				before.HeapInuse, after.HeapInuse, grow)
			if full == 0 {
				t.Fatal("the backlog bound was never hit")
			}
			if st.Backlog > backlog+len(chunk)+4<<10 {
				t.Errorf("backlog %d exceeds the bound %d", st.Backlog, backlog)
			}
			if grow > 3*backlog {
				t.Errorf("heap grew by %d B, more than 3 x MaxWriteBacklog", grow)
			}
			// The peer leaves; the session ends.
			resetClose(t, c)
			if cause, _ := rec.waitClosed(t); cause == nil {
				t.Error("no cause")
			}
		})
	}
}

// recordClientHello returns the first TLS record a crypto/tls client sends: a
// whole ClientHello, as a stalled peer would have started to send it.
func recordClientHello(t testing.TB, conf *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(a, conf).Handshake() //nolint:errcheck // it fails when the pipe closes
	}()
	if err := b.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var hdr [5]byte
	if _, err := io.ReadFull(b, hdr[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	a.Close()
	<-done
	return append(hdr[:], body...)
}

// TestFaultTLSStallMidHandshake: raw TCP peers that send part of a
// ClientHello, or all of it and then nothing, are cut off at
// HandshakeTimeout with ErrHandshakeTimeout (reported to the Observer; no
// session opens), while a real TLS client is served meanwhile.
func TestFaultTLSStallMidHandshake(t *testing.T) {
	certs := testutil.NewCerts(t)
	env := &testutil.Env{
		Any:    "127.0.0.1:0",
		Listen: func(addr string) (getty.Listener, error) { return tcp.Listen(addr, &tcp.Config{TLS: certs.Server}) },
		Dialer: func(addr string) getty.Dialer { return tcp.Dialer{Addr: addr, Config: tcp.Config{TLS: certs.Client}} },
	}
	var mu sync.Mutex
	var hsErrs []error
	obs := getty.ObserverFuncs{Error: func(s getty.SessionInfo, err error) {
		mu.Lock()
		hsErrs = append(hsErrs, err)
		mu.Unlock()
	}}
	const timeout = 300 * time.Millisecond
	rec := newRecorder(t, true)
	srv, l := serve(t, env, rec, &getty.ServerOptions{Options: getty.Options{
		HandshakeTimeout: timeout, Observer: obs}})
	conf := certs.Client.Clone()
	conf.ServerName = "127.0.0.1"
	hello := recordClientHello(t, conf)
	stalls := map[string][]byte{
		"record header only":   hello[:5],
		"half a ClientHello":   hello[:len(hello)/2],
		"whole ClientHello":    hello, // the server answers, then waits for the client's Finished
		"connect, say nothing": nil,
	}
	var wg sync.WaitGroup
	for name, prefix := range stalls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			start := time.Now()
			if _, err := c.Write(prefix); err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			// Drain what the server says until it hangs up.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, c)
			took := time.Since(start)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("%s: the server never hung up", name)
				return
			}
			if took < timeout-20*time.Millisecond {
				t.Errorf("%s: cut after %v, before the %v timeout", name, took, timeout)
			}
			t.Logf("%s (%d B sent): server hung up after %v, having sent %d B (%v)", name, len(prefix), took.Round(time.Millisecond), n, err)
		}()
	}
	// A real client is served while the stalled ones hang.
	good := rawPeer(t, env, l)
	roundTrip(t, good, []byte("served meanwhile"))
	wg.Wait()
	waitFor(t, "the handshake failures", func() bool { return srv.Stats().HandshakeFailed == uint64(len(stalls)) })
	mu.Lock()
	defer mu.Unlock()
	for _, err := range hsErrs {
		var op *getty.OpError
		if !errors.Is(err, getty.ErrHandshakeTimeout) || !errors.As(err, &op) || op.Op != "handshake" {
			t.Errorf("observer error %v, want a handshake OpError wrapping ErrHandshakeTimeout", err)
		}
	}
	if len(hsErrs) != len(stalls) {
		t.Errorf("%d handshake errors observed for %d stalled peers", len(hsErrs), len(stalls))
	}
	roundTrip(t, good, []byte("still served"))
	if rec.opened.Load() != 1 {
		t.Errorf("%d sessions opened, want only the good client's", rec.opened.Load())
	}
	t.Logf("%d stalled TLS handshakes injected, %d cut with ErrHandshakeTimeout, good client served", len(stalls), len(hsErrs))
}

// checkClosedOnceExcept verifies OnClose ran exactly once for every closed
// session and that open sessions (OnOpen without OnClose) number open.
func (r *recorder) checkClosedOnceExcept(t testing.TB, open int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if got := r.opened.Load() - int64(len(r.closes)); got != int64(open) {
		t.Errorf("OnOpen ran %d times, OnClose for %d sessions: %d open, want %d", r.opened.Load(), len(r.closes), got, open)
	}
	for id, n := range r.closes {
		if n != 1 {
			t.Errorf("session %d: OnClose ran %d times", id, n)
		}
	}
}
