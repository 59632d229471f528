package compress

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gettynet/getty"
)

// TestIdleConnHoldsNoReadBuffer: once the bytes that arrived are consumed,
// a connection waiting for more holds no read-ahead buffer, on a plain TCP
// socket (polled without a buffer on Linux) as on a wrapped one.
func TestIdleConnHoldsNoReadBuffer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		w, _ := NewConn(c, nil)
		w.WriteMessages([]getty.Message{{Data: []byte("one")}, {Data: make([]byte, 3000)}}) //nolint:errcheck // the reader checks
		c.Read(make([]byte, 1))                                                             //nolint:errcheck // wait for the reader to finish
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, wrap := range []bool{false, true} {
		conn := net.Conn(nc)
		if wrap {
			conn = struct{ net.Conn }{nc} // not a *net.TCPConn: read through Read
		}
		c, err := NewConn(conn, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !wrap {
			for range 2 {
				if _, err := c.ReadMessage(1 << 20); err != nil {
					t.Fatal(err)
				}
			}
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.ReadMessage(1 << 20); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("wrap=%t: %v, want a deadline error", wrap, err)
		}
		c.rmu.Lock()
		held := c.rbuf != nil || c.body != nil || c.contentBuf != nil
		c.rmu.Unlock()
		if held {
			t.Fatalf("wrap=%t: an idle connection holds read buffers", wrap)
		}
		c.SetReadDeadline(time.Time{})
	}
}

// TestAnnouncedBodyIsNotAllocatedUpFront: a header announcing a 4 MiB body
// followed by a few bytes costs a small buffer, not 4 MiB.
func TestAnnouncedBodyIsNotAllocatedUpFront(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	defer b.Close()
	c, err := NewConn(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		b.Write([]byte{flags(S2, false), 0x00, 0x40, 0x00, 0x00}) //nolint:errcheck // 4 MiB announced
		b.Write(make([]byte, 100))                                //nolint:errcheck // then a trickle
	}()
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.ReadMessage(8 << 20); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.bodyLen != 4<<20 || c.bn != 100 || cap(*c.body) > firstBodyBuffer {
		t.Fatalf("body %d of %d read, buffer of %d bytes", c.bn, c.bodyLen, cap(*c.body))
	}
}
