//go:build linux

package unix_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/unix"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sockDir returns a fresh directory with a short path: sun_path holds only
// 107 bytes, and t.TempDir() names can be longer.
func sockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "g")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func sockPath(t testing.TB, name string) string { return filepath.Join(sockDir(t), name) }

// abstractName returns a Linux abstract name unique to the test.
func abstractName(t testing.TB) string {
	return fmt.Sprintf("@getty-test-%d-%d", os.Getpid(), time.Now().UnixNano())
}

// requirePeer returns the path of a peer program, skipping the test when
// it is missing unless GETTY_REQUIRE_PEERS=1 (then the test fails).
func requirePeer(t testing.TB, name string) string { return testutil.RequirePeer(t, name) }

// rawCodec makes each message (datagram or seqpacket record) one package.
type rawCodec struct{}

func (rawCodec) Decode(data []byte, max int) ([]byte, int, error) {
	if len(data) > max {
		return nil, 0, getty.ErrMessageTooLarge
	}
	return append([]byte(nil), data...), len(data), nil
}

func (rawCodec) Encode(dst, p []byte) ([]byte, error) { return append(dst, p...), nil }

// echo is a handler that writes every package back: to its sender on
// packet sessions, else on the session. Received packages are also sent on
// got, if set.
type echo struct {
	getty.NopHandler[[]byte]
	got chan []byte
}

func (h *echo) OnMessage(s *getty.Session[[]byte], p []byte) {
	h.note(p)
	s.Write(p) //nolint:errcheck // a failed echo ends the session; tests see it
}

func (h *echo) OnPacket(s *getty.Session[[]byte], p []byte, from net.Addr) {
	h.note(p)
	if s.RemoteAddr() != nil {
		s.Write(p) //nolint:errcheck // as above
		return
	}
	s.WriteTo(p, from) //nolint:errcheck // as above
}

func (h *echo) note(p []byte) {
	if h.got != nil {
		h.got <- append([]byte(nil), p...)
	}
}

// collect is a client handler that sends every package it receives on ch.
func collect(ch chan []byte) getty.Handler[[]byte] {
	return getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], p []byte) {
		ch <- append([]byte(nil), p...)
	}}
}

// server runs a getty server on l until the test ends.
type server struct {
	srv    *getty.Server[[]byte]
	l      *unix.Listener
	served chan error
	once   sync.Once
}

func serve(t testing.TB, l *unix.Listener, codec getty.Codec[[]byte], h getty.Handler[[]byte], opts *getty.ServerOptions) *server {
	t.Helper()
	srv, err := getty.NewServer(codec, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{srv: srv, l: l, served: make(chan error, 1)}
	go func() { s.served <- srv.Serve(l) }()
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

// shutdown stops the server (once) and checks that Serve returned
// ErrServerClosed.
func (s *server) shutdown(t testing.TB) {
	t.Helper()
	s.once.Do(func() { s.stop(t) })
}

func (s *server) stop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-s.served; !errors.Is(err, getty.ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
}

// dial opens a client until the test ends.
func dial(t testing.TB, d getty.Dialer, codec getty.Codec[[]byte], h getty.Handler[[]byte], opts *getty.ClientOptions) (*getty.Client[[]byte], *getty.Session[[]byte]) {
	t.Helper()
	if opts == nil {
		opts = &getty.ClientOptions{NoReconnect: true}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := getty.Dial(ctx, d, codec, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

// timeout bounds every wait of the tests.
func timeout() <-chan time.Time { return time.After(10 * time.Second) }

// recv waits for one package on ch.
func recv(t testing.TB, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-timeout():
		t.Fatal("timed out waiting for a package")
		return nil
	}
}
