package getty_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/testutil"
)

func TestCronRunsAndNeverOverlaps(t *testing.T) { forEngines(t, testCronRunsAndNeverOverlaps) }

func testCronRunsAndNeverOverlaps(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	crons := make(chan struct{}, 100)
	rec.onCron = func(s *getty.Session[[]byte]) {
		s.Write([]byte("heartbeat"))
		crons <- struct{}{}
	}
	_, l := serve(t, env, rec, &getty.ServerOptions{Options: getty.Options{CronPeriod: 20 * time.Millisecond}})
	c := dialRaw(t, l)
	// Messages keep flowing while cron fires: the recorder fails the test
	// if OnCron and OnMessage ever overlap.
	go func() {
		for i := range 200 {
			if _, err := c.Write(frame([]byte(fmt.Sprint(i)))); err != nil {
				return
			}
		}
	}()
	for range 5 {
		select {
		case <-crons:
		case <-time.After(5 * time.Second):
			t.Fatal("OnCron did not run")
		}
	}
	heartbeats := 0
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for got := 0; got < 200 || heartbeats == 0; {
		p, err := readFrame(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(p) == "heartbeat" {
			heartbeats++
		} else {
			got++
		}
	}
	if heartbeats == 0 {
		t.Error("no heartbeat reached the peer")
	}
}

func TestShutdownFlushesSessionsMidWrite(t *testing.T) {
	forEngines(t, testShutdownFlushesSessionsMidWrite)
}

func testShutdownFlushesSessionsMidWrite(t *testing.T, env *testutil.Env) {
	var opened sync.WaitGroup
	const sessions = 10
	opened.Add(sessions)
	var queued atomic.Int64
	h := getty.HandlerFuncs[[]byte]{Open: func(s *getty.Session[[]byte]) error {
		go func() {
			defer opened.Done()
			for i := range 50 {
				if s.Write(payload(i, 32<<10)) != nil {
					return
				}
				queued.Add(1)
			}
		}()
		return nil
	}}
	srv, err := getty.NewServer(lengthfield.Codec{}, getty.Handler[[]byte](h), env.ServerOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	l := env.MustListen(t)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	var received atomic.Int64
	var readers sync.WaitGroup
	for range sessions {
		c := dialRaw(t, l)
		readers.Add(1)
		go func() {
			defer readers.Done()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				p, err := readFrame(c)
				if err != nil {
					if !errors.Is(err, io.EOF) {
						t.Errorf("reader: %v", err)
					}
					return
				}
				if len(p) != 32<<10 {
					t.Errorf("partial package of %d bytes", len(p))
				}
				received.Add(1)
			}
		}()
	}
	opened.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, getty.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	readers.Wait()
	if received.Load() != queued.Load() {
		t.Errorf("queued %d packages, peers received %d", queued.Load(), received.Load())
	}
	if err := srv.Serve(env.MustListen(t)); !errors.Is(err, getty.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownDeadlineAbortsStuckSessions(t *testing.T) {
	forEngines(t, testShutdownDeadlineAbortsStuckSessions)
}

func testShutdownDeadlineAbortsStuckSessions(t *testing.T, env *testutil.Env) {
	started := make(chan *getty.Session[[]byte], 1)
	rec := newRecorder(t, false)
	rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
	srv, err := getty.NewServer(lengthfield.Codec{}, getty.Handler[[]byte](rec), env.ServerOptions(&getty.ServerOptions{Options: getty.Options{WriteTimeout: -1}}))
	if err != nil {
		t.Fatal(err)
	}
	l := env.MustListen(t)
	go srv.Serve(l)
	dialRaw(t, l) // never reads
	s := <-started
	for s.Write(payload(1, 64<<10)) == nil {
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	rec.checkClosedOnce(t)
}

func TestClientReconnectsAfterServerRestart(t *testing.T) {
	forEngines(t, testClientReconnectsAfterServerRestart)
}

func testClientReconnectsAfterServerRestart(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	srv, err := getty.NewServer(lengthfield.Codec{}, getty.Handler[[]byte](rec), env.ServerOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	l := env.MustListen(t)
	addr := l.Addr().String()
	go srv.Serve(l)

	opens := make(chan *getty.Session[[]byte], 10)
	replies := make(chan string, 10)
	ch := getty.HandlerFuncs[[]byte]{
		Open:    func(s *getty.Session[[]byte]) error { opens <- s; return nil },
		Message: func(_ *getty.Session[[]byte], p []byte) { replies <- string(p) },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := getty.Dial(ctx, env.Dialer(addr), lengthfield.Codec{}, ch, env.ClientOptions(&getty.ClientOptions{
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo := func(msg string) {
		t.Helper()
		s := <-opens
		if err := s.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-replies:
			if got != msg {
				t.Fatalf("got %q", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no reply")
		}
	}
	echo("before")
	srv.Close()
	srv2, err := getty.NewServer(lengthfield.Codec{}, getty.Handler[[]byte](newRecorder(t, true)), env.ServerOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := env.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv2.Serve(l2)
	defer srv2.Close()
	echo("after")
}

func TestClientCloseCancelsReconnect(t *testing.T) { forEngines(t, testClientCloseCancelsReconnect) }

func testClientCloseCancelsReconnect(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	started := make(chan *getty.Session[[]byte], 1)
	rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
	_, l := serve(t, env, rec, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := getty.Dial(ctx, env.Dialer(l.Addr().String()), lengthfield.Codec{}, getty.Handler[[]byte](getty.NopHandler[[]byte]{}),
		env.ClientOptions(&getty.ClientOptions{ReconnectMin: time.Hour, ReconnectMax: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	(<-started).Close()
	rec.waitClosed(t)
	// The client now waits an hour to reconnect; Close must not.
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the reconnect backoff")
	}
	if _, err := c.Session(); !errors.Is(err, getty.ErrClientClosed) {
		t.Errorf("Session after Close: %v", err)
	}
	if err := c.Close(); !errors.Is(err, getty.ErrClientClosed) {
		t.Errorf("second Close: %v", err)
	}
}

func TestDialFailsWhenNobodyListens(t *testing.T) { forEngines(t, testDialFailsWhenNobodyListens) }

func testDialFailsWhenNobodyListens(t *testing.T, env *testutil.Env) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = getty.Dial(ctx, env.Dialer(addr), lengthfield.Codec{}, getty.Handler[[]byte](getty.NopHandler[[]byte]{}), env.ClientOptions(nil))
	var op *getty.OpError
	if !errors.As(err, &op) || op.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial = %v", err)
	}
}

func TestClientKeepsNConnections(t *testing.T) { forEngines(t, testClientKeepsNConnections) }

func testClientKeepsNConnections(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	srv, l := serve(t, env, rec, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opened := make(chan struct{}, 8)
	h := getty.HandlerFuncs[[]byte]{Open: func(*getty.Session[[]byte]) error { opened <- struct{}{}; return nil }}
	c, err := getty.Dial(ctx, env.Dialer(l.Addr().String()), lengthfield.Codec{}, getty.Handler[[]byte](h), env.ClientOptions(&getty.ClientOptions{Connections: 4}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 4 {
		<-opened
	}
	// Session rotates over the connections once each has registered
	// (just after its OnOpen returns).
	ids := map[uint64]bool{}
	for deadline := time.Now().Add(5 * time.Second); len(ids) < 4 && time.Now().Before(deadline); {
		s, err := c.Session()
		if err != nil {
			t.Fatal(err)
		}
		ids[s.ID()] = true
		runtime.Gosched()
	}
	if len(ids) != 4 {
		t.Errorf("Session rotated over %d connections, want 4", len(ids))
	}
	// The server opens its side asynchronously.
	for deadline := time.Now().Add(5 * time.Second); srv.Stats().SessionsOpen != 4; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("server sees %d sessions", srv.Stats().SessionsOpen)
		}
	}
}

// flakyListener fails Accept with EMFILE a few times before each success.
type flakyListener struct {
	getty.Listener
	fails atomic.Int32
}

func (f *flakyListener) Accept() (getty.Conn, error) {
	if f.fails.Add(1)%4 != 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return f.Listener.Accept()
}

// PlainStream lets the event-loop engine serve the wrapped TCP listener.
func (f *flakyListener) PlainStream() bool { return true }

func TestAcceptBacksOffOnEMFILE(t *testing.T) { forEngines(t, testAcceptBacksOffOnEMFILE) }

func testAcceptBacksOffOnEMFILE(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	srv, err := getty.NewServer(lengthfield.Codec{}, getty.Handler[[]byte](rec), env.ServerOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: env.MustListen(t)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(fl) }()
	for i := range 3 {
		c := dialRaw(t, fl)
		c.Write(frame([]byte("x")))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := readFrame(c); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	srv.Close()
	if err := <-served; !errors.Is(err, getty.ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	h := getty.Handler[[]byte](getty.NopHandler[[]byte]{})
	for name, o := range map[string]*getty.ServerOptions{
		"negative size":    {Options: getty.Options{MaxPackageSize: -1}},
		"negative timeout": {Options: getty.Options{ReadTimeout: -time.Second}},
		"negative limit":   {MaxSessions: -1},
	} {
		if _, err := getty.NewServer(lengthfield.Codec{}, h, o); !errors.Is(err, getty.ErrInvalidOptions) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := getty.NewServer[[]byte](nil, h, nil); !errors.Is(err, getty.ErrInvalidOptions) {
		t.Errorf("nil codec: %v", err)
	}
}

// TestServeEndsWhenTheListenerCloses checks that closing the listener
// (not the server) ends Serve with an error wrapping net.ErrClosed, on
// both engines (the event loop accepts from a duplicate of the socket,
// which the listener closes too).
func TestServeEndsWhenTheListenerCloses(t *testing.T) {
	forEngines(t, func(t *testing.T, env *testutil.Env) {
		srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, echoHandler{}, env.ServerOptions(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		l := env.MustListen(t)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(l) }()
		c := dialRaw(t, l) // Serve is accepting
		roundTrip(t, c, []byte("up"))
		l.Close()
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Serve = %v, want an error wrapping net.ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve still running after its listener closed")
		}
		// A connection after the close is refused (nothing listens).
		if nc, err := net.DialTimeout(l.Addr().Network(), l.Addr().String(), time.Second); err == nil {
			nc.Close()
			t.Fatal("the closed listener's address still accepts")
		}
	})
}

// TestCloseReachesASessionInOnOpen checks that Server.Close cancels the
// context of a session whose OnOpen is still running (on the event-loop
// engine it runs on the accepting goroutine, before a loop lists the
// session), instead of waiting for OnOpen to give up by itself.
func TestCloseReachesASessionInOnOpen(t *testing.T) {
	forEngines(t, func(t *testing.T, env *testutil.Env) {
		entered := make(chan struct{})
		rec := newRecorder(t, false)
		rec.onOpen = func(s *getty.Session[[]byte]) error {
			close(entered)
			select {
			case <-s.Context().Done(): // an OnOpen calling out with the session's context
				return s.Context().Err()
			case <-time.After(10 * time.Second):
				return errors.New("the session's context was not cancelled")
			}
		}
		srv, err := getty.NewServer(lengthfield.Codec{}, getty.Handler[[]byte](rec), env.ServerOptions(nil))
		if err != nil {
			t.Fatal(err)
		}
		l := env.MustListen(t)
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		dialRaw(t, l)
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("OnOpen did not run")
		}
		closed := make(chan struct{})
		go func() {
			srv.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(3 * time.Second):
			t.Error("Close waits for an OnOpen it did not cancel")
			<-closed
		}
		if err := <-served; !errors.Is(err, getty.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
		rec.checkClosedOnce(t)
	})
}
