package getty_test

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty"
)

// pingConn is an in-memory MessageConn with a keepalive probe (Pinger) and
// a closing handshake (CauseCloser), to test how the engine drives both.
type pingConn struct {
	answer   bool // answer pings (as a live peer would)
	pings    atomic.Int32
	lastPong atomic.Int64

	mu     sync.Mutex
	dl     time.Time
	wake   chan struct{}
	closed chan struct{}
	cause  chan error
	once   sync.Once
}

func newPingConn(answer bool) *pingConn {
	return &pingConn{answer: answer, wake: make(chan struct{}, 1), closed: make(chan struct{}), cause: make(chan error, 1)}
}

func (c *pingConn) ReadMessage(int) (getty.Message, error) {
	for {
		c.mu.Lock()
		dl := c.dl
		c.mu.Unlock()
		var timer <-chan time.Time
		if !dl.IsZero() {
			if time.Until(dl) <= 0 {
				return getty.Message{}, errTimeout{}
			}
			timer = time.After(time.Until(dl))
		}
		select {
		case <-c.closed:
			return getty.Message{}, net.ErrClosed
		case <-c.wake:
		case <-timer:
		}
	}
}

type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }

func (c *pingConn) WriteMessages([]getty.Message) error { return nil }
func (c *pingConn) LocalAddr() net.Addr                 { return &net.TCPAddr{} }
func (c *pingConn) RemoteAddr() net.Addr                { return &net.TCPAddr{} }
func (c *pingConn) SetWriteDeadline(time.Time) error    { return nil }
func (c *pingConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.dl = t
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}
func (c *pingConn) Close() error { return c.CloseWithCause(nil) }
func (c *pingConn) CloseWithCause(cause error) error {
	c.once.Do(func() {
		c.cause <- cause
		close(c.closed)
	})
	return nil
}
func (c *pingConn) Ping() error {
	c.pings.Add(1)
	if c.answer {
		c.lastPong.Store(time.Now().UnixNano())
	}
	return nil
}
func (c *pingConn) LastPong() time.Time {
	if n := c.lastPong.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// oneConnListener yields one connection, then blocks until closed.
type oneConnListener struct {
	c    chan getty.Conn
	done chan struct{}
	once sync.Once
}

func newOneConnListener(c getty.Conn) *oneConnListener {
	l := &oneConnListener{c: make(chan getty.Conn, 1), done: make(chan struct{})}
	l.c <- c
	return l
}

func (l *oneConnListener) Accept() (getty.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *oneConnListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{} }

func servePingConn(t *testing.T, c *pingConn, readTimeout time.Duration) (*getty.Server[[]byte], chan error) {
	t.Helper()
	closed := make(chan error, 1)
	srv, err := getty.NewServer[[]byte](rawCodec{}, getty.HandlerFuncs[[]byte]{
		Close: func(s *getty.Session[[]byte]) { closed <- s.Err() },
	}, &getty.ServerOptions{Options: getty.Options{ReadTimeout: readTimeout}})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(newOneConnListener(c)) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return srv, closed
}

type rawCodec struct{}

func (rawCodec) Decode(data []byte, _ int) ([]byte, int, error) { return data, len(data), nil }
func (rawCodec) Encode(dst []byte, p []byte) ([]byte, error)    { return append(dst, p...), nil }

// A peer that answers the engine's pings stays open well past ReadTimeout.
func TestPingerAnsweredKeepsSession(t *testing.T) {
	t.Parallel()
	c := newPingConn(true)
	_, closed := servePingConn(t, c, time.Second)
	select {
	case err := <-closed:
		t.Fatalf("session closed: %v", err)
	case <-time.After(3 * time.Second):
	}
	if n := c.pings.Load(); n < 2 {
		t.Fatalf("%d pings in 3 s with ReadTimeout 1s", n)
	}
}

// A peer that never answers is pinged, then closed with ErrReadTimeout, and
// the connection hears that cause through CloseWithCause.
func TestPingerUnansweredTimesOut(t *testing.T) {
	t.Parallel()
	c := newPingConn(false)
	_, closed := servePingConn(t, c, 300*time.Millisecond)
	select {
	case err := <-closed:
		if !errors.Is(err, getty.ErrReadTimeout) {
			t.Fatalf("cause %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("silent peer not closed")
	}
	if c.pings.Load() == 0 {
		t.Fatal("no ping before the timeout")
	}
	if err := <-c.cause; !errors.Is(err, getty.ErrReadTimeout) {
		t.Fatalf("CloseWithCause got %v", err)
	}
}

// Session.Close reaches the connection as CloseWithCause(ErrSessionClosed).
func TestCauseCloserOnSessionClose(t *testing.T) {
	t.Parallel()
	c := newPingConn(true)
	srv, closed := servePingConn(t, c, 0)
	deadline := time.Now().Add(5 * time.Second)
	var s *getty.Session[[]byte]
	for s == nil && time.Now().Before(deadline) {
		srv.Range(func(x *getty.Session[[]byte]) bool { s = x; return false })
		time.Sleep(time.Millisecond)
	}
	if s == nil {
		t.Fatal("no session")
	}
	s.Close()
	if err := <-closed; !errors.Is(err, getty.ErrSessionClosed) {
		t.Fatalf("cause %v", err)
	}
	if err := <-c.cause; !errors.Is(err, getty.ErrSessionClosed) {
		t.Fatalf("CloseWithCause got %v", err)
	}
	if c.pings.Load() != 0 {
		t.Fatal("pinged without a ReadTimeout")
	}
}
