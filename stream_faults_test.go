package getty_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/testutil"
)

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
			c := rawPeer(t, env, l)
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
	// A fixed receive buffer: autotuning could grow it (tcp_rmem allows
	// 32 MiB on some machines) past everything written below.
	if err := c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	s := <-started
	chunk := payload(2, 64<<10)
	// Up to 16 MiB: more than the server's send buffer may grow to (4 MiB
	// by tcp_wmem here) and the peer's receive buffer hold.
	for i := 0; i < 256 && s.Stats().Backlog < 1<<20; i++ {
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
	waitFor(t, "the sessions to close", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.closes) >= n
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, k := range r.closes {
		if k != 1 {
			t.Errorf("session %d: OnClose ran %d times", id, k)
		}
	}
}
