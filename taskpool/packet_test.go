package taskpool_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/taskpool"
)

// A minimal packet transport over a real UDP socket, enough to drive the
// engine's packet path (the project's UDP transport lives elsewhere).
type udpConn struct {
	*net.UDPConn
	buf []byte
}

func (c *udpConn) ReadMessage(int) (getty.Message, error) {
	n, addr, err := c.ReadFromUDP(c.buf)
	if err != nil {
		return getty.Message{}, err
	}
	return getty.Message{Addr: addr, Data: c.buf[:n]}, nil
}

func (c *udpConn) WriteMessages(ms []getty.Message) error {
	for _, m := range ms {
		if _, err := c.WriteTo(m.Data, m.Addr); err != nil {
			return err
		}
	}
	return nil
}

func (c *udpConn) Connected() bool { return false }

// udpListener yields its one socket once, then waits to be closed.
type udpListener struct {
	c      *udpConn
	once   sync.Once
	closed chan struct{}
	cOnce  sync.Once
}

func (l *udpListener) Accept() (getty.Conn, error) {
	var c getty.Conn
	l.once.Do(func() { c = l.c })
	if c != nil {
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *udpListener) Close() error {
	l.cOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *udpListener) Addr() net.Addr { return l.c.LocalAddr() }

func serveUDP(t *testing.T, h getty.Handler[[]byte], o getty.Options) (*getty.Server[[]byte], *net.UDPConn) {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := &udpListener{c: &udpConn{UDPConn: pc, buf: make([]byte, 64<<10)}, closed: make(chan struct{})}
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, h, &getty.ServerOptions{Options: o})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-done
	})
	c, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

// A panic in OnError reporting a soft error (a datagram that does not
// decode), run on the pool, ends the session with ErrPanic as it does
// inline.
func TestPacketPooledPanicInOnError(t *testing.T) {
	t.Parallel()
	for _, pooled := range []bool{false, true} {
		var o getty.Options
		if pooled {
			o.TaskPool = newPool(t, taskpool.Options{Workers: 2})
		}
		closed := make(chan error, 1)
		h := getty.HandlerFuncs[[]byte]{
			Error: func(_ *getty.Session[[]byte], err error) {
				if errors.Is(err, getty.ErrBadPackage) {
					panic("OnError")
				}
			},
			Close: func(s *getty.Session[[]byte]) { closed <- s.Err() },
		}
		_, c := serveUDP(t, h, o)
		if _, err := c.Write([]byte{0, 0, 0, 9, 1}); err != nil { // 1 byte of a 9-byte frame
			t.Fatal(err)
		}
		if err := <-closed; !errors.Is(err, getty.ErrPanic) {
			t.Fatalf("pooled=%v: session closed with %v, want ErrPanic", pooled, err)
		}
	}
}

// Under the Fail policy a packet session drops the datagrams the pool
// refuses and goes on; it does not end as a stream session does.
func TestPacketFailPolicyDrops(t *testing.T) {
	t.Parallel()
	pool := newPool(t, taskpool.Options{Workers: 1, QueueSize: 2, WhenFull: taskpool.Fail})
	gate := make(chan struct{})
	var handled atomic.Int64
	var once sync.Once
	h := getty.HandlerFuncs[[]byte]{
		Message: func(*getty.Session[[]byte], []byte) {
			once.Do(func() { <-gate })
			handled.Add(1)
		},
	}
	srv, c := serveUDP(t, h, getty.Options{TaskPool: pool})
	for i := range 20 {
		c.Write(frame(uint32(i), 8))
	}
	waitUntil(t, "refused datagrams", func() bool { return pool.Stats().Rejected > 0 })
	close(gate)
	c.Write(frame(100, 8))
	waitUntil(t, "the datagram sent after the drops", func() bool {
		return handled.Load() == int64(20-pool.Stats().Rejected+1)
	})
	open := false
	srv.Range(func(s *getty.Session[[]byte]) bool { open = !s.Closed(); return false })
	if !open {
		t.Fatal("the packet session closed")
	}
}
