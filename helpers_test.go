package getty_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that records events and checks the callback
// contract: no overlapping callbacks per session, OnClose exactly once.
type recorder struct {
	t       testing.TB
	echo    bool
	onOpen  func(s *getty.Session[[]byte]) error
	onMsg   func(s *getty.Session[[]byte], p []byte)
	onCron  func(s *getty.Session[[]byte])
	mu      sync.Mutex
	busy    map[uint64]bool
	closes  map[uint64]int
	errs    map[uint64][]error
	causes  map[uint64]error
	msgs    atomic.Int64
	crons   atomic.Int64
	opened  atomic.Int64
	closedC chan uint64
}

func newRecorder(t testing.TB, echo bool) *recorder {
	return &recorder{t: t, echo: echo, busy: map[uint64]bool{}, closes: map[uint64]int{},
		errs: map[uint64][]error{}, causes: map[uint64]error{}, closedC: make(chan uint64, 1<<16)}
}

func (r *recorder) enter(s *getty.Session[[]byte], what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.busy[s.ID()] {
		r.t.Errorf("session %d: %s overlaps another callback", s.ID(), what)
	}
	if r.closes[s.ID()] > 0 {
		r.t.Errorf("session %d: %s after OnClose", s.ID(), what)
	}
	r.busy[s.ID()] = true
}

func (r *recorder) leave(s *getty.Session[[]byte]) {
	r.mu.Lock()
	r.busy[s.ID()] = false
	r.mu.Unlock()
}

func (r *recorder) OnOpen(s *getty.Session[[]byte]) error {
	r.enter(s, "OnOpen")
	defer r.leave(s)
	r.opened.Add(1)
	if r.onOpen != nil {
		return r.onOpen(s)
	}
	return nil
}

func (r *recorder) OnMessage(s *getty.Session[[]byte], p []byte) {
	r.enter(s, "OnMessage")
	defer r.leave(s)
	r.msgs.Add(1)
	if r.onMsg != nil {
		r.onMsg(s, p)
	}
	if r.echo {
		if err := s.Write(p); err != nil && !errors.Is(err, getty.ErrSessionClosed) {
			r.t.Errorf("echo write: %v", err)
		}
	}
}

func (r *recorder) OnCron(s *getty.Session[[]byte]) {
	r.enter(s, "OnCron")
	defer r.leave(s)
	r.crons.Add(1)
	if r.onCron != nil {
		r.onCron(s)
	}
}

func (r *recorder) OnError(s *getty.Session[[]byte], err error) {
	r.enter(s, "OnError")
	defer r.leave(s)
	r.mu.Lock()
	r.errs[s.ID()] = append(r.errs[s.ID()], err)
	r.mu.Unlock()
}

func (r *recorder) OnClose(s *getty.Session[[]byte]) {
	r.enter(s, "OnClose")
	r.mu.Lock()
	r.closes[s.ID()]++
	r.causes[s.ID()] = s.Err()
	r.busy[s.ID()] = false
	r.mu.Unlock()
	r.closedC <- s.ID()
}

// waitClosed waits for the next OnClose and returns that session's cause
// and reported errors.
func (r *recorder) waitClosed(t testing.TB) (cause error, errs []error) { //nolint:revive,staticcheck // cause is a value, not a failure
	t.Helper()
	select {
	case id := <-r.closedC:
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.causes[id], append([]error(nil), r.errs[id]...)
	case <-time.After(10 * time.Second):
		t.Fatal("no session closed within 10s")
		return nil, nil
	}
}

// checkClosedOnce verifies OnClose ran exactly once for every session.
func (r *recorder) checkClosedOnce(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if int64(len(r.closes)) != r.opened.Load() {
		t.Errorf("OnOpen ran %d times, OnClose for %d sessions", r.opened.Load(), len(r.closes))
	}
	for id, n := range r.closes {
		if n != 1 {
			t.Errorf("session %d: OnClose ran %d times", id, n)
		}
	}
}

// serve starts a server on env and shuts it down (checking it stops) at
// the end of the test.
func serve(t testing.TB, env *testutil.Env, h getty.Handler[[]byte], opts *getty.ServerOptions) (*getty.Server[[]byte], getty.Listener) {
	t.Helper()
	return serveCodec(t, env, lengthfield.Codec{}, h, opts)
}

// serveCodec is serve with another codec.
func serveCodec(t testing.TB, env *testutil.Env, codec getty.Codec[[]byte], h getty.Handler[[]byte], opts *getty.ServerOptions) (*getty.Server[[]byte], getty.Listener) {
	t.Helper()
	srv, err := getty.NewServer(codec, h, env.ServerOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	l := env.MustListen(t)
	serveOn(t, srv, l)
	return srv, l
}

func tcpEnv(t testing.TB) *testutil.Env { return testutil.Streams()[0].Setup(t) }

// frame returns the lengthfield encoding of p.
func frame(p []byte) []byte {
	b, _ := lengthfield.Codec{}.Encode(nil, p)
	return b
}

// readFrame reads one lengthfield frame from a raw connection.
func readFrame(c net.Conn) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return nil, err
	}
	p := make([]byte, binary.BigEndian.Uint32(h[:]))
	_, err := io.ReadFull(c, p)
	return p, err
}

// dialRaw opens a plain TCP connection to l.
func dialRaw(t testing.TB, l getty.Listener) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// payload returns n deterministic bytes, different for each seed.
func payload(seed, n int) []byte {
	p := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	return p
}

// forEngines runs test over TCP on each engine: "goroutine" and, on Linux,
// "eventloop".
func forEngines(t *testing.T, test func(t *testing.T, env *testutil.Env)) {
	t.Run("goroutine", func(t *testing.T) { test(t, tcpEnv(t)) })
	if runtime.GOOS == "linux" {
		t.Run("eventloop", func(t *testing.T) {
			env := tcpEnv(t)
			env.Engine = getty.EngineEventLoop
			test(t, env)
		})
	}
}

// serveOn serves l with srv and shuts srv down at the end of the test.
func serveOn[T any](t testing.TB, srv *getty.Server[T], l getty.Listener) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, getty.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
