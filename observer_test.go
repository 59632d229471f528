package getty_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/taskpool"
	"github.com/gettynet/getty/transport/tcp"
)

// counting is an Observer that sums what it is told and checks the hook
// contract: OnOpen before anything else of a session, OnClose once and
// last.
type counting struct {
	t                 testing.TB
	opens, closes     atomic.Int64
	bytesIn, bytesOut atomic.Int64
	pkgsIn, pkgsOut   atomic.Int64
	handled           atomic.Int64
	handleNanos       atomic.Int64
	mu                sync.Mutex
	state             map[uint64]string // "open", "closed"
	causes            map[getty.CloseCause]int
	errs              []error
	refused           []error
	closedC           chan getty.CloseCause
	errC              chan error
}

func newCounting(t testing.TB) *counting {
	return &counting{t: t, state: map[uint64]string{}, causes: map[getty.CloseCause]int{},
		closedC: make(chan getty.CloseCause, 1024), errC: make(chan error, 1024)}
}

func (c *counting) expectOpen(s getty.SessionInfo, hook string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.state[s.ID()]; st != "open" {
		c.t.Errorf("session %d: %s while %q", s.ID(), hook, st)
	}
}

func (c *counting) OnOpen(s getty.SessionInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.state[s.ID()]; ok {
		c.t.Errorf("session %d: OnOpen while %q", s.ID(), st)
	}
	c.state[s.ID()] = "open"
	c.opens.Add(1)
}

func (c *counting) OnClose(s getty.SessionInfo, cause getty.CloseCause, err error) {
	c.expectOpen(s, "OnClose")
	if got := getty.CauseOf(s.Err()); got != cause || !errors.Is(err, s.Err()) {
		c.t.Errorf("session %d: OnClose(%v, %v) but Err() = %v", s.ID(), cause, err, s.Err())
	}
	c.mu.Lock()
	c.state[s.ID()] = "closed"
	c.causes[cause]++
	c.mu.Unlock()
	c.closes.Add(1)
	c.closedC <- cause
}

func (c *counting) OnError(s getty.SessionInfo, err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
	c.errC <- err
}

func (c *counting) OnRefuse(_ net.Addr, err error) {
	c.mu.Lock()
	c.refused = append(c.refused, err)
	c.mu.Unlock()
	c.errC <- err
}

func (c *counting) OnRead(s getty.SessionInfo, bytes, packages int) {
	c.expectOpen(s, "OnRead")
	if bytes <= 0 || packages < 0 {
		c.t.Errorf("OnRead(%d, %d)", bytes, packages)
	}
	c.bytesIn.Add(int64(bytes))
	c.pkgsIn.Add(int64(packages))
}

func (c *counting) OnWrite(s getty.SessionInfo, bytes, packages int) {
	c.expectOpen(s, "OnWrite")
	if bytes <= 0 || packages < 0 {
		c.t.Errorf("OnWrite(%d, %d)", bytes, packages)
	}
	c.bytesOut.Add(int64(bytes))
	c.pkgsOut.Add(int64(packages))
}

func (c *counting) OnHandle(s getty.SessionInfo, d time.Duration) {
	c.expectOpen(s, "OnHandle")
	if d < 0 {
		c.t.Errorf("OnHandle(%v)", d)
	}
	c.handled.Add(1)
	c.handleNanos.Add(int64(d))
}

// waitCloses waits for n OnClose calls.
func (c *counting) waitCloses(t testing.TB, n int) []getty.CloseCause {
	t.Helper()
	var got []getty.CloseCause
	for range n {
		select {
		case cause := <-c.closedC:
			got = append(got, cause)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d sessions closed", len(got), n)
		}
	}
	return got
}

func (c *counting) waitErr(t testing.TB) error {
	t.Helper()
	select {
	case err := <-c.errC:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no error observed")
		return nil
	}
}

// TestStatsCountKnownTraffic runs N sessions of M packages of K bytes each
// over every stream transport and checks the server's and clients' Stats
// and the Observer's sums against the traffic, while another goroutine
// takes snapshots that must never go backwards.
func TestStatsCountKnownTraffic(t *testing.T) {
	type variant struct {
		name string
		tr   testutil.Transport
		pool bool
	}
	var variants []variant
	for _, tr := range testutil.Streams() {
		variants = append(variants, variant{tr.Name, tr, false})
	}
	variants = append(variants, variant{"tcp with a task pool", testutil.Streams()[0], true})
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			const sessions, packages, size = 6, 200, 300
			const wire = size + 4 // lengthfield header
			env := v.tr.Setup(t)
			obs := newCounting(t)
			o := getty.Options{Observer: obs}
			if v.pool {
				pool, err := taskpool.New(&taskpool.Options{Workers: 2})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { pool.Close(context.Background()) }) // after the server's Shutdown (cleanups run last-in first-out)
				o.TaskPool = pool
			}
			srv, l := serve(t, env, newRecorder(t, true), &getty.ServerOptions{Options: o})

			stop := make(chan struct{})
			monotonic := make(chan error, 1)
			go func() {
				var last getty.Stats
				for {
					select {
					case <-stop:
						monotonic <- nil
						return
					default:
					}
					st := srv.Stats()
					if st.BytesIn < last.BytesIn || st.PackagesOut < last.PackagesOut || st.SessionsTotal < last.SessionsTotal || st.SessionsOpen < 0 {
						monotonic <- fmt.Errorf("stats went backwards: %+v after %+v", st, last)
						return
					}
					last = st
				}
			}()

			var wg sync.WaitGroup
			clients := make([]*getty.Client[[]byte], sessions)
			for i := range sessions {
				got := make(chan []byte, packages)
				h := getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], p []byte) { got <- p }}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := getty.Dial(ctx, env.Dialer(l.Addr().String()), lengthfield.Codec{}, h, nil)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				clients[i] = c
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := c.Session()
					if err != nil {
						t.Error(err)
						return
					}
					for j := range packages {
						if err := s.Write(payload(i*packages+j, size)); err != nil {
							t.Error(err)
							return
						}
					}
					for j := range packages {
						select {
						case <-got:
						case <-time.After(10 * time.Second):
							t.Errorf("client %d: echo %d missing", i, j)
							return
						}
					}
				}()
			}
			wg.Wait()
			for _, c := range clients {
				if err := c.Close(); err != nil {
					t.Error(err)
				}
				cs := c.Stats()
				if cs.SessionsTotal != 1 || cs.SessionsOpen != 0 || cs.Closed.Shutdown != 1 || cs.Accepted != 1 ||
					cs.PackagesOut != packages || cs.PackagesIn != packages || cs.BytesOut != packages*wire || cs.BytesIn != packages*wire {
					t.Errorf("client stats %+v", cs)
				}
			}
			for _, cause := range obs.waitCloses(t, sessions) {
				if cause != getty.CausePeer {
					t.Errorf("server session closed with cause %v, want peer", cause)
				}
			}
			close(stop)
			if err := <-monotonic; err != nil {
				t.Error(err)
			}

			st := srv.Stats()
			want := getty.Stats{
				SessionsTotal: sessions, Accepted: sessions,
				Closed:  getty.ClosedStats{Peer: sessions},
				BytesIn: sessions * packages * wire, BytesOut: sessions * packages * wire,
				PackagesIn: sessions * packages, PackagesOut: sessions * packages,
			}
			if st != want {
				t.Errorf("server stats\n got %+v\nwant %+v", st, want)
			}
			if obs.opens.Load() != sessions || obs.closes.Load() != sessions ||
				obs.bytesIn.Load() != int64(st.BytesIn) || obs.bytesOut.Load() != int64(st.BytesOut) ||
				obs.pkgsIn.Load() != int64(st.PackagesIn) || obs.pkgsOut.Load() != int64(st.PackagesOut) ||
				obs.handled.Load() != sessions*packages {
				t.Errorf("observer: opens %d closes %d in %d B/%d pkgs out %d B/%d pkgs handled %d",
					obs.opens.Load(), obs.closes.Load(), obs.bytesIn.Load(), obs.pkgsIn.Load(),
					obs.bytesOut.Load(), obs.pkgsOut.Load(), obs.handled.Load())
			}
		})
	}
}

// TestCloseCausesCounted ends sessions in every way there is and checks
// the cause the Observer and Stats see.
func TestCloseCausesCounted(t *testing.T) {
	tests := []struct {
		name  string
		opts  getty.Options
		h     func(rec *recorder)
		drive func(t *testing.T, c *net.TCPConn, srv *getty.Server[[]byte])
		want  getty.CloseCause
	}{
		{name: "peer close", want: getty.CausePeer,
			drive: func(t *testing.T, c *net.TCPConn, _ *getty.Server[[]byte]) { c.Close() }},
		{name: "peer reset", want: getty.CausePeer,
			drive: func(t *testing.T, c *net.TCPConn, _ *getty.Server[[]byte]) {
				c.Write(frame([]byte("x")))
				readFrame(c)
				c.SetLinger(0)
				c.Close()
			}},
		{name: "local close", want: getty.CauseLocal,
			h: func(rec *recorder) {
				rec.onMsg = func(s *getty.Session[[]byte], _ []byte) { s.Close() }
			},
			drive: func(t *testing.T, c *net.TCPConn, _ *getty.Server[[]byte]) { c.Write(frame([]byte("bye"))) }},
		{name: "read timeout", want: getty.CauseTimeout, opts: getty.Options{ReadTimeout: 50 * time.Millisecond, TimerTick: 5 * time.Millisecond},
			drive: func(t *testing.T, c *net.TCPConn, _ *getty.Server[[]byte]) {}},
		{name: "package too large", want: getty.CauseLimit, opts: getty.Options{MaxPackageSize: 16},
			drive: func(t *testing.T, c *net.TCPConn, _ *getty.Server[[]byte]) { c.Write(frame(make([]byte, 100))) }},
		{name: "rejected by OnOpen", want: getty.CauseRejected,
			h: func(rec *recorder) {
				rec.onOpen = func(*getty.Session[[]byte]) error { return errors.New("not today") }
			},
			drive: func(t *testing.T, c *net.TCPConn, _ *getty.Server[[]byte]) {}},
		{name: "handler panic", want: getty.CauseError,
			h: func(rec *recorder) {
				rec.onMsg = func(*getty.Session[[]byte], []byte) { panic("boom") }
			},
			drive: func(t *testing.T, c *net.TCPConn, _ *getty.Server[[]byte]) { c.Write(frame([]byte("x"))) }},
		{name: "shutdown", want: getty.CauseShutdown,
			drive: func(t *testing.T, c *net.TCPConn, srv *getty.Server[[]byte]) {
				c.Write(frame([]byte("x")))
				readFrame(c)
				go srv.Shutdown(context.Background())
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obs := newCounting(t)
			rec := newRecorder(t, true)
			if tt.h != nil {
				tt.h(rec)
			}
			o := tt.opts
			o.Observer = obs
			srv, l := serve(t, tcpEnv(t), rec, &getty.ServerOptions{Options: o})
			c := dialRaw(t, l).(*net.TCPConn)
			tt.drive(t, c, srv)
			if got := obs.waitCloses(t, 1)[0]; got != tt.want {
				t.Errorf("cause %v, want %v", got, tt.want)
			}
			st := srv.Stats()
			if st.Closed.ByCause(tt.want) != 1 || st.Closed.Total() != 1 || st.SessionsOpen != 0 || st.SessionsTotal != 1 {
				t.Errorf("stats %+v", st)
			}
			if tt.want == getty.CauseRejected && (st.RejectedByHandler != 1 || st.Rejected != 1) {
				t.Errorf("rejections not counted: %+v", st)
			}
		})
	}
}

// TestRefusalsCounted checks the session limit and failed dials.
func TestRefusalsCounted(t *testing.T) {
	t.Parallel()
	t.Run("session limit", func(t *testing.T) {
		obs := newCounting(t)
		rec := newRecorder(t, true)
		opened := make(chan struct{}, 1)
		rec.onOpen = func(*getty.Session[[]byte]) error { opened <- struct{}{}; return nil }
		srv, l := serve(t, tcpEnv(t), rec, &getty.ServerOptions{MaxSessions: 1, Options: getty.Options{Observer: obs}})
		dialRaw(t, l)
		<-opened
		c2 := dialRaw(t, l)
		if err := obs.waitErr(t); !errors.Is(err, getty.ErrTooManySessions) {
			t.Errorf("refusal %v", err)
		}
		c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Error("refused connection stays open")
		}
		if st := srv.Stats(); st.RejectedLimit != 1 || st.Rejected != 1 || st.Accepted != 2 || st.SessionsOpen != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("dial failure", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		obs := newCounting(t)
		_, err = getty.Dial(context.Background(), tcp.Dialer{Addr: addr}, lengthfield.Codec{}, getty.NopHandler[[]byte]{},
			&getty.ClientOptions{Options: getty.Options{Observer: obs}})
		var op *getty.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			t.Fatalf("Dial = %v", err)
		}
		if got := obs.waitErr(t); !errors.As(got, &op) || op.Op != "dial" {
			t.Errorf("refusal %v", got)
		}
	})
}

// TestHandshakeFailureObserved sends plain bytes to a TLS server: the
// session never opens, the Observer gets the handshake error and Stats
// count it.
func TestHandshakeFailureObserved(t *testing.T) {
	t.Parallel()
	certs := testutil.NewCerts(t)
	l, err := tcp.Listen("127.0.0.1:0", &tcp.Config{TLS: certs.Server})
	if err != nil {
		t.Fatal(err)
	}
	obs := newCounting(t)
	rec := newRecorder(t, true)
	srv, err := getty.NewServer(lengthfield.Codec{}, rec, &getty.ServerOptions{Options: getty.Options{Observer: obs}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		<-done
	}()
	c := dialRaw(t, l)
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	err = obs.waitErr(t)
	var op *getty.OpError
	if !errors.As(err, &op) || op.Op != "handshake" {
		t.Errorf("observed %v, want a handshake OpError", err)
	}
	if st := srv.Stats(); st.HandshakeFailed != 1 || st.SessionsTotal != 0 || st.Closed.Total() != 0 {
		t.Errorf("stats %+v", st)
	}
	if obs.opens.Load() != 0 || rec.opened.Load() != 0 {
		t.Error("a session whose handshake failed was opened")
	}
}

// classified is a transport error that names its own cause and close code.
type classified struct{ code int }

func (classified) Error() string                { return "ws-like close" }
func (classified) CloseCause() getty.CloseCause { return getty.CausePeer }
func (c classified) CloseCode() int             { return c.code }

func TestCauseOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want getty.CloseCause
	}{
		{nil, getty.CauseLocal},
		{getty.ErrSessionClosed, getty.CauseLocal},
		{getty.ErrServerClosed, getty.CauseShutdown},
		{getty.ErrClientClosed, getty.CauseShutdown},
		{fmt.Errorf("%w: no", getty.ErrRejected), getty.CauseRejected},
		{&getty.OpError{Op: "read", Err: fmt.Errorf("%w: 5 MiB", getty.ErrMessageTooLarge)}, getty.CauseLimit},
		{getty.ErrReadTimeout, getty.CauseTimeout},
		{&getty.OpError{Op: "write", Err: fmt.Errorf("%w: %w", getty.ErrWriteTimeout, os.ErrDeadlineExceeded)}, getty.CauseTimeout},
		{&getty.OpError{Op: "handshake", Err: getty.ErrHandshakeTimeout}, getty.CauseTimeout},
		{io.EOF, getty.CausePeer},
		{fmt.Errorf("wrapped: %w", io.ErrUnexpectedEOF), getty.CausePeer},
		{&getty.OpError{Op: "read", Err: &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}, getty.CausePeer},
		{&getty.OpError{Op: "decode", Err: getty.ErrBadPackage}, getty.CauseError},
		{fmt.Errorf("%w: boom", getty.ErrPanic), getty.CauseError},
		{&getty.OpError{Op: "read", Err: classified{1001}}, getty.CausePeer},
		{tls.RecordHeaderError{Msg: "bad"}, getty.CauseError},
	}
	for _, tt := range tests {
		if got := getty.CauseOf(tt.err); got != tt.want {
			t.Errorf("CauseOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	var cc getty.CloseCoder
	if !errors.As(&getty.OpError{Op: "read", Err: classified{1009}}, &cc) || cc.CloseCode() != 1009 {
		t.Error("CloseCoder not found in the chain")
	}
	for _, c := range getty.CloseCauses() {
		if c.String() == "" || (c != getty.CauseError && c.String() == "error") {
			t.Errorf("cause %d has label %q", c, c)
		}
	}
}

// TestObserverAllocs checks that the write path allocates nothing, with or
// without an Observer (the hooks take no closures).
func TestObserverAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		obs  getty.Observer
	}{{"none", nil}, {"nop", getty.NopObserver{}}} {
		t.Run(tc.name, func(t *testing.T) {
			start := make(chan *getty.Session[[]byte], 1)
			rec := newRecorder(t, false)
			rec.onOpen = func(s *getty.Session[[]byte]) error { start <- s; return nil }
			_, l := serve(t, tcpEnv(t), rec, &getty.ServerOptions{Options: getty.Options{Observer: tc.obs}})
			c := dialRaw(t, l)
			s := <-start
			msg := []byte("hello")
			buf := make([]byte, 4+len(msg))
			allocs := testing.AllocsPerRun(200, func() {
				if err := s.Write(msg); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > 0 {
				t.Errorf("%v allocations per write", allocs)
			}
		})
	}
}

// BenchmarkEchoObserved is BenchmarkEchoPipelined with and without an
// Observer: the hooks' cost (a nil check, or the calls and two clock
// reads per package) per 16 packages.
func BenchmarkEchoObserved(b *testing.B) {
	for _, tc := range []struct {
		name string
		obs  getty.Observer
	}{{"none", nil}, {"nop", getty.NopObserver{}}} {
		b.Run(tc.name, func(b *testing.B) {
			_, l := serve(b, tcpEnv(b), echoHandler{}, &getty.ServerOptions{Options: getty.Options{Observer: tc.obs}})
			c := dialRaw(b, l)
			const depth = 16
			msg := frame(payload(1, 64))
			batch := make([]byte, 0, depth*len(msg))
			for range depth {
				batch = append(batch, msg...)
			}
			in := make([]byte, len(batch))
			c.SetDeadline(time.Now().Add(time.Minute))
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(batch); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
