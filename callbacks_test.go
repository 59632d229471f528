package getty_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/taskpool"
	"github.com/gettynet/getty/transport/tcp"
)

// The callbacks of Handler, and how a test makes the engine call each one
// on a victim session (OnOpen and OnCron come by themselves).
var callbacks = []struct {
	name    string
	trigger func(c net.Conn) // what the victim's peer does
	// cause is what the victim session ends with when the callback
	// panics: ErrPanic, unless the session was ending already.
	cause error
}{
	{"OnOpen", func(net.Conn) {}, getty.ErrPanic},
	{"OnMessage", func(c net.Conn) { c.Write(frame([]byte("boom"))) }, getty.ErrPanic},
	{"OnCron", func(net.Conn) {}, getty.ErrPanic},
	// OnError runs for the error that ends the session: a panic there
	// cannot change the cause any more.
	{"OnError", func(c net.Conn) { c.Write([]byte{0xff, 0xff, 0xff, 0xff}) }, getty.ErrMessageTooLarge},
	{"OnClose", func(c net.Conn) { c.Close() }, io.EOF},
}

// victimHandler wraps a recorder: in the callback named mode, it runs hook
// on the first session opened after arm, the victim.
type victimHandler struct {
	*recorder
	mode  string
	armed atomic.Bool
	hook  func(s *getty.Session[[]byte])
}

type victimKey struct{}

func (h *victimHandler) at(s *getty.Session[[]byte], cb string) {
	if cb == h.mode && s.Value(victimKey{}) != nil {
		h.hook(s)
	}
}

func (h *victimHandler) OnOpen(s *getty.Session[[]byte]) error {
	err := h.recorder.OnOpen(s)
	if h.armed.Swap(false) {
		s.SetValue(victimKey{}, true)
	}
	h.at(s, "OnOpen")
	return err
}

func (h *victimHandler) OnMessage(s *getty.Session[[]byte], p []byte) {
	h.at(s, "OnMessage")
	h.recorder.OnMessage(s, p)
}

func (h *victimHandler) OnCron(s *getty.Session[[]byte]) {
	h.recorder.OnCron(s)
	h.at(s, "OnCron")
}

func (h *victimHandler) OnError(s *getty.Session[[]byte], err error) {
	h.recorder.OnError(s, err)
	h.at(s, "OnError")
}

func (h *victimHandler) OnClose(s *getty.Session[[]byte]) {
	h.recorder.OnClose(s)
	h.at(s, "OnClose")
}

// closedByServer waits until the server closes c (EOF or a reset).
func closedByServer(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server did not close the connection within 10s")
	}
}

// pooledOrNot runs f without and with a TaskPool (closed after the server).
func pooledOrNot(t *testing.T, f func(t *testing.T, pool getty.TaskPool)) {
	t.Run("inline", func(t *testing.T) { f(t, nil) })
	t.Run("pool", func(t *testing.T) {
		p, err := taskpool.New(&taskpool.Options{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // registered first: runs after the server's shutdown
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Close(ctx); err != nil {
				t.Errorf("pool close: %v", err)
			}
		})
		f(t, p)
	})
}

// TestCallbackPanics: a panic in any callback, with or without a TaskPool,
// on every stream transport, is recovered and logged; the victim session
// is closed (with a cause wrapping ErrPanic, reported to OnError, unless it
// was closing already) and OnClose runs once; the other sessions keep
// echoing and the server keeps accepting.
func TestCallbackPanics(t *testing.T) {
	for _, tr := range testutil.Streams() {
		t.Run(tr.Name, func(t *testing.T) {
			for _, cb := range callbacks {
				t.Run(cb.name, func(t *testing.T) {
					pooledOrNot(t, func(t *testing.T, pool getty.TaskPool) {
						env := tr.Setup(t)
						logs := &syncBuffer{}
						h := &victimHandler{recorder: newRecorder(t, true), mode: cb.name,
							hook: func(*getty.Session[[]byte]) { panic("victim " + cb.name) }}
						srv, l := serve(t, env, h, &getty.ServerOptions{Options: getty.Options{
							TaskPool: pool, CronPeriod: 20 * time.Millisecond,
							Logger: slog.New(slog.NewTextHandler(logs, nil))}})
						good := rawPeer(t, env, l)
						roundTrip(t, good, []byte("before"))

						h.armed.Store(true)
						victim := rawPeer(t, env, l)
						cb.trigger(victim)
						cause, errs := h.waitClosed(t)
						if !errors.Is(cause, cb.cause) {
							t.Fatalf("victim cause %v, want %v", cause, cb.cause)
						}
						if cb.name != "OnClose" {
							oneError(t, errs, cb.cause)
							closedByServer(t, victim)
						}
						for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "victim "+cb.name); time.Sleep(5 * time.Millisecond) {
							if time.Now().After(deadline) {
								t.Fatalf("the panic was not logged:\n%s", logs.String())
							}
						}

						roundTrip(t, good, []byte("after"))
						roundTrip(t, rawPeer(t, env, l), []byte("newcomer"))
						// The victim leaves the count just after its OnClose.
						sessionsOpen(t, srv, 2)
					})
				})
			}
		})
	}
}

// TestCloseInsideCallbacks: Close (twice) and Write from inside each
// callback return nil or ErrSessionClosed, never deadlock, and the session
// ends with OnClose exactly once.
func TestCloseInsideCallbacks(t *testing.T) {
	for _, tr := range testutil.Streams() {
		t.Run(tr.Name, func(t *testing.T) {
			for _, cb := range callbacks {
				t.Run(cb.name, func(t *testing.T) {
					pooledOrNot(t, func(t *testing.T, pool getty.TaskPool) {
						env := tr.Setup(t)
						type result struct{ close1, close2, write error }
						got := make(chan result, 4)
						h := &victimHandler{recorder: newRecorder(t, false), mode: cb.name,
							hook: func(s *getty.Session[[]byte]) {
								var r result
								r.close1 = s.Close()
								r.close2 = s.Close()
								r.write = s.Write([]byte("late"))
								got <- r
							}}
						t.Cleanup(func() { h.checkClosedOnce(t) }) // after the server's shutdown
						srv, l := serve(t, env, h, &getty.ServerOptions{Options: getty.Options{
							TaskPool: pool, CronPeriod: 20 * time.Millisecond}})
						h.armed.Store(true)
						victim := rawPeer(t, env, l)
						cb.trigger(victim)
						var r result
						select {
						case r = <-got:
						case <-time.After(10 * time.Second):
							t.Fatal("callback never ran")
						}
						// Closing an open session succeeds once; a session
						// that is ending already (OnError, OnClose) says so.
						wantFirst := error(nil)
						if cb.name == "OnError" || cb.name == "OnClose" {
							wantFirst = getty.ErrSessionClosed
						}
						if !errors.Is(r.close1, wantFirst) || r.close1 != nil && wantFirst == nil {
							t.Errorf("first Close = %v, want %v", r.close1, wantFirst)
						}
						if !errors.Is(r.close2, getty.ErrSessionClosed) || !errors.Is(r.write, getty.ErrSessionClosed) {
							t.Errorf("second Close = %v, Write = %v; want ErrSessionClosed", r.close2, r.write)
						}
						cause, _ := h.waitClosed(t)
						if want := map[string]error{"OnError": getty.ErrMessageTooLarge, "OnClose": io.EOF}[cb.name]; want != nil {
							if !errors.Is(cause, want) {
								t.Errorf("cause %v, want %v", cause, want)
							}
						} else if !errors.Is(cause, getty.ErrSessionClosed) {
							t.Errorf("cause %v, want ErrSessionClosed", cause)
						}
						if cb.name != "OnClose" {
							closedByServer(t, victim)
						}
						echoesAfter(t, srv, env, l)
					})
				})
			}
		})
	}
}

// echoesAfter checks that the server still serves a new session (the test
// handler may not echo: it writes the reply itself from OnOpen).
func echoesAfter(t *testing.T, srv *getty.Server[[]byte], env *testutil.Env, l getty.Listener) {
	t.Helper()
	before := srv.Stats().SessionsTotal
	rawPeer(t, env, l)
	for deadline := time.Now().Add(10 * time.Second); srv.Stats().SessionsTotal == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no new session opened")
		}
	}
}

// TestCloseRacesWriteMatrix: many goroutines write while others close the
// session, on every stream transport, with and without a pool. Every call
// returns nil or ErrSessionClosed; OnClose runs once per session.
func TestCloseRacesWriteMatrix(t *testing.T) {
	for _, tr := range testutil.Streams() {
		t.Run(tr.Name, func(t *testing.T) {
			pooledOrNot(t, func(t *testing.T, pool getty.TaskPool) {
				env := tr.Setup(t)
				started := make(chan *getty.Session[[]byte], 16)
				rec := newRecorder(t, true)
				rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
				_, l := serve(t, env, rec, &getty.ServerOptions{Options: getty.Options{TaskPool: pool}})
				const rounds, writers, closers = 5, 8, 3
				var calls atomic.Int64
				for range rounds {
					c := rawPeer(t, env, l)
					go io.Copy(io.Discard, c)
					var s *getty.Session[[]byte]
					select {
					case s = <-started:
					case <-time.After(10 * time.Second):
						t.Fatal("no session")
					}
					var wg sync.WaitGroup
					var opened atomic.Int32
					for i := range writers + closers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for j := range 100 {
								var err error
								switch {
								case i < writers:
									err = s.Write(payload(j, 64))
								case j == 50:
									if err = s.Close(); err == nil {
										opened.Add(1)
									}
								default:
									continue
								}
								calls.Add(1)
								if err != nil && !errors.Is(err, getty.ErrSessionClosed) {
									t.Errorf("call returned %v", err)
								}
							}
						}()
					}
					wg.Wait()
					if opened.Load() != 1 {
						t.Errorf("%d Close calls returned nil, want 1", opened.Load())
					}
					rec.waitClosed(t)
				}
				rec.checkClosedOnce(t)
				t.Logf("%d racing calls", calls.Load())
			})
		})
	}
}

// TestClientCloseDuringReconnect: Client.Close returns at once whether the
// client is waiting out its reconnect backoff, blocked in a dial, or in
// the middle of a TLS handshake with a server that never answers.
func TestClientCloseDuringReconnect(t *testing.T) {
	certs := testutil.NewCerts(t)
	for _, phase := range []string{"dialing", "handshaking"} {
		t.Run(phase, func(t *testing.T) {
			server := tcp.Config{TLS: certs.Server}
			l, err := tcp.Listen("127.0.0.1:0", &server)
			if err != nil {
				t.Fatal(err)
			}
			started := make(chan *getty.Session[[]byte], 1)
			rec := newRecorder(t, true)
			rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
			srv, err := getty.NewServer(lengthfield.Codec{}, getty.Handler[[]byte](rec), nil)
			if err != nil {
				t.Fatal(err)
			}
			serveOn(t, srv, l)
			// A listener that accepts and never speaks: a TLS handshake
			// with it stalls.
			mute, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer mute.Close()
			muteAccepted := make(chan net.Conn, 4)
			go func() {
				for {
					c, err := mute.Accept()
					if err != nil {
						return
					}
					muteAccepted <- c
				}
			}()

			stuck := make(chan struct{}, 4)
			var dials atomic.Int32
			d := getty.DialerFunc(func(ctx context.Context) (getty.Conn, error) {
				if dials.Add(1) == 1 {
					return tcp.Dialer{Addr: l.Addr().String(), Config: tcp.Config{TLS: certs.Client}}.Dial(ctx)
				}
				if phase == "dialing" {
					stuck <- struct{}{}
					<-ctx.Done()
					return nil, ctx.Err()
				}
				c, err := tcp.Dialer{Addr: mute.Addr().String(), Config: tcp.Config{TLS: certs.Client}}.Dial(ctx)
				if err == nil {
					stuck <- struct{}{}
				}
				return c, err
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := getty.Dial(ctx, d, lengthfield.Codec{}, getty.Handler[[]byte](getty.NopHandler[[]byte]{}),
				&getty.ClientOptions{ReconnectMin: time.Millisecond, ReconnectMax: time.Millisecond,
					DialTimeout: time.Hour, Options: getty.Options{HandshakeTimeout: time.Hour}})
			if err != nil {
				t.Fatal(err)
			}
			(<-started).Close()
			select {
			case <-stuck:
			case <-time.After(10 * time.Second):
				t.Fatal("the client did not reconnect")
			}
			if phase == "handshaking" {
				defer (<-muteAccepted).Close()
			}
			done := make(chan error, 1)
			go func() { done <- c.Close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Close waited for the %s reconnect", phase)
			}
			if err := c.Close(); !errors.Is(err, getty.ErrClientClosed) {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}
