package taskpool_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/taskpool"
	"github.com/gettynet/getty/transport/tcp"
)

// These tests run a getty server with a pool over real TCP loopback.

type stateKey struct{}

// sessState checks one session's callbacks: in order, never overlapping.
type sessState struct {
	busy atomic.Bool
	next uint32 // guarded by busy
	bad  atomic.Int64
}

func (st *sessState) enter() {
	if st.busy.Swap(true) {
		st.bad.Add(1)
	}
}

func (st *sessState) leave() { st.busy.Store(false) }

// echoHandler echoes every package after checking that its sequence number
// (the first 4 bytes) is the next one of its session.
type echoHandler struct {
	getty.NopHandler[[]byte]
	delay  func(seq uint32) // optional, inside OnMessage
	cron   atomic.Int64
	closed chan *sessState
}

func (h *echoHandler) OnOpen(s *getty.Session[[]byte]) error {
	s.SetValue(stateKey{}, &sessState{})
	return nil
}

func (h *echoHandler) OnMessage(s *getty.Session[[]byte], pkg []byte) {
	st := s.Value(stateKey{}).(*sessState)
	st.enter()
	defer st.leave()
	seq := binary.BigEndian.Uint32(pkg)
	if seq != st.next {
		st.bad.Add(1)
	}
	st.next = seq + 1
	if h.delay != nil {
		h.delay(seq)
	}
	if err := s.Write(pkg); err != nil {
		st.bad.Add(1)
	}
}

func (h *echoHandler) OnCron(s *getty.Session[[]byte]) {
	st := s.Value(stateKey{}).(*sessState)
	st.enter()
	h.cron.Add(1)
	st.leave()
}

func (h *echoHandler) OnClose(s *getty.Session[[]byte]) {
	st := s.Value(stateKey{}).(*sessState)
	st.enter() // OnClose must come after every pooled callback
	st.leave()
	if h.closed != nil {
		h.closed <- st
	}
}

func serve(t *testing.T, h getty.Handler[[]byte], o getty.Options) (*getty.Server[[]byte], string) {
	t.Helper()
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, h, &getty.ServerOptions{Options: o})
	if err != nil {
		t.Fatal(err)
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
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
		if err := <-done; !errors.Is(err, getty.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, l.Addr().String()
}

func newPool(t *testing.T, o taskpool.Options) *taskpool.Pool {
	t.Helper()
	p, err := taskpool.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: register the pool's before the
	// server's so that the server shuts down first.
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("pool Close: %v", err)
		}
	})
	return p
}

func frame(seq uint32, size int) []byte {
	b := make([]byte, 4+size)
	binary.BigEndian.PutUint32(b, uint32(size))
	binary.BigEndian.PutUint32(b[4:], seq)
	return b
}

// pipeline sends n numbered packages on a new connection, half-closes it,
// and checks that the echoes come back complete and in order.
func pipeline(addr string, n, size int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	errc := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(c)
		for i := range n {
			if _, err := w.Write(frame(uint32(i), size)); err != nil {
				errc <- err
				return
			}
		}
		if err := w.Flush(); err != nil {
			errc <- err
			return
		}
		errc <- c.(*net.TCPConn).CloseWrite()
	}()
	r := bufio.NewReader(c)
	hdr := make([]byte, 4)
	for i := range n {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return fmt.Errorf("echo %d of %d: %w", i, n, err)
		}
		p := make([]byte, binary.BigEndian.Uint32(hdr))
		if _, err := io.ReadFull(r, p); err != nil {
			return err
		}
		if got := binary.BigEndian.Uint32(p); got != uint32(i) {
			return fmt.Errorf("echo %d carries sequence %d", i, got)
		}
	}
	return <-errc
}

// Many sessions pipeline many packages through an Ordered pool with small
// mailboxes (the read loops block on them) and random handler delays: each
// session sees its packages in order, its callbacks never overlap, OnClose
// comes after all of them, and the peer's half-close does not cut off the
// packages still queued.
func TestServerOrderedPerSession(t *testing.T) {
	t.Parallel()
	for _, policy := range []taskpool.FullPolicy{taskpool.Block, taskpool.RunInCaller} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			const conns, msgs = 32, 400
			pool := newPool(t, taskpool.Options{Workers: 4, QueueSize: 8, WhenFull: policy})
			h := &echoHandler{
				closed: make(chan *sessState, conns),
				delay: func(uint32) {
					if rand.IntN(100) == 0 {
						time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
					}
				},
			}
			_, addr := serve(t, h, getty.Options{TaskPool: pool, CronPeriod: time.Millisecond, TimerTick: time.Millisecond})
			var wg sync.WaitGroup
			for range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := pipeline(addr, msgs, 16+rand.IntN(200)); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			for range conns {
				st := <-h.closed
				if st.next != msgs || st.bad.Load() != 0 {
					t.Errorf("session handled %d packages, %d in wrong order or overlapping", st.next, st.bad.Load())
				}
			}
			t.Logf("cron ticks: %d, pool: %+v", h.cron.Load(), pool.Stats())
		})
	}
}

// The unordered shapes run a session's packages on several workers at once:
// allowed to reorder, so this test only checks that every package is
// handled and echoed.
func TestServerUnorderedShapes(t *testing.T) {
	t.Parallel()
	for _, mode := range []taskpool.Mode{taskpool.Shared, taskpool.RoundRobin, taskpool.KeyHash} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			const conns, msgs = 8, 300
			pool := newPool(t, taskpool.Options{Mode: mode, Workers: 4, QueueSize: 16})
			var handled, reordered atomic.Int64
			h := getty.HandlerFuncs[[]byte]{
				Open: func(s *getty.Session[[]byte]) error {
					s.SetValue(stateKey{}, new(atomic.Uint32))
					return nil
				},
				Message: func(s *getty.Session[[]byte], pkg []byte) {
					last := s.Value(stateKey{}).(*atomic.Uint32)
					seq := binary.BigEndian.Uint32(pkg)
					if prev := last.Swap(seq + 1); prev > seq {
						reordered.Add(1)
					}
					handled.Add(1)
				},
			}
			_, addr := serve(t, h, getty.Options{TaskPool: pool})
			var wg sync.WaitGroup
			for range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					w := bufio.NewWriter(c)
					for i := range msgs {
						w.Write(frame(uint32(i), 8))
					}
					if err := w.Flush(); err != nil {
						t.Error(err)
					}
					c.(*net.TCPConn).CloseWrite()
					io.Copy(io.Discard, c) // until the server closes
				}()
			}
			wg.Wait()
			if handled.Load() != conns*msgs {
				t.Errorf("handled %d packages, want %d", handled.Load(), conns*msgs)
			}
			if mode == taskpool.KeyHash && reordered.Load() != 0 {
				t.Errorf("KeyHash reordered %d packages", reordered.Load())
			}
			t.Logf("%s: %d packages seen out of order (allowed)", mode, reordered.Load())
		})
	}
}

// One session whose handler is stuck does not delay the others: with two
// workers, twenty other sessions finish their request/response exchanges.
func TestServerStuckSessionDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	pool := newPool(t, taskpool.Options{Workers: 2, QueueSize: 4})
	stuck := make(chan struct{})
	h := &echoHandler{}
	var first atomic.Bool
	h.delay = func(seq uint32) {
		if seq == 1000 && first.CompareAndSwap(false, true) {
			<-stuck
		}
	}
	_, addr := serve(t, h, getty.Options{TaskPool: pool})
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// Sequence 1000 is out of order for that session; it only blocks.
	for i := range 50 {
		if _, err := slow.Write(frame(uint32(1000+i), 8)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the stuck handler", first.Load)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			hdr := make([]byte, 4+8)
			for i := range 100 {
				if _, err := c.Write(frame(uint32(i), 8)); err != nil {
					t.Error(err)
					return
				}
				if _, err := io.ReadFull(c, hdr); err != nil {
					t.Errorf("round trip %d while another session is stuck: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stuck)
}

// A panic in a pooled handler closes its session with ErrPanic, like an
// inline one; the pool and the other sessions live on.
func TestServerPooledPanic(t *testing.T) {
	t.Parallel()
	pool := newPool(t, taskpool.Options{Workers: 2})
	errs := make(chan error, 4)
	h := getty.HandlerFuncs[[]byte]{
		Message: func(s *getty.Session[[]byte], pkg []byte) {
			if string(pkg) == "boom" {
				panic("boom")
			}
			s.Write(pkg)
		},
		Close: func(s *getty.Session[[]byte]) { errs <- s.Err() },
	}
	_, addr := serve(t, h, getty.Options{TaskPool: pool})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	boom, _ := lengthfield.Codec{}.Encode(nil, []byte("boom"))
	c.Write(boom)
	if err := <-errs; !errors.Is(err, getty.ErrPanic) {
		t.Fatalf("session closed with %v, want ErrPanic", err)
	}
	if err := pipeline(addr, 10, 8); err != nil {
		t.Fatal(err)
	}
}

// A pool closed before the server: sessions that need it end with an error
// wrapping taskpool.ErrClosed, and the server still shuts down cleanly.
func TestServerPoolClosedFirst(t *testing.T) {
	t.Parallel()
	pool, err := taskpool.New(&taskpool.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	h := getty.HandlerFuncs[[]byte]{Close: func(s *getty.Session[[]byte]) { errs <- s.Err() }}
	_, addr := serve(t, h, getty.Options{TaskPool: pool})
	if err := pool.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(frame(0, 8))
	if err := <-errs; !errors.Is(err, taskpool.ErrClosed) {
		t.Fatalf("session closed with %v, want taskpool.ErrClosed", err)
	}
}

// Under the Fail policy a session whose mailbox overflows is closed with
// ErrPoolFull: its packages cannot be dropped silently.
func TestServerFailPolicy(t *testing.T) {
	t.Parallel()
	pool := newPool(t, taskpool.Options{Workers: 1, QueueSize: 2, WhenFull: taskpool.Fail})
	gate := make(chan struct{})
	errs := make(chan error, 1)
	var once sync.Once
	h := getty.HandlerFuncs[[]byte]{
		Message: func(*getty.Session[[]byte], []byte) { once.Do(func() { <-gate }) },
		Close:   func(s *getty.Session[[]byte]) { errs <- s.Err() },
	}
	_, addr := serve(t, h, getty.Options{TaskPool: pool})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 20 {
		c.Write(frame(uint32(i), 8))
	}
	var err2 error
	select {
	case err2 = <-errs:
	case <-time.After(500 * time.Millisecond):
		close(gate) // the session closes only once its queued tasks are done
		err2 = <-errs
		gate = nil
	}
	if gate != nil {
		close(gate)
	}
	if !errors.Is(err2, taskpool.ErrPoolFull) {
		t.Fatalf("session closed with %v, want ErrPoolFull", err2)
	}
}

// Under the Block policy a session whose handler is stuck stops reading:
// the peer's writes stall (TCP flow control), and nothing is lost once the
// handler goes on.
func TestServerBlockPolicyPushesBack(t *testing.T) {
	t.Parallel()
	pool := newPool(t, taskpool.Options{Workers: 1, QueueSize: 4})
	gate := make(chan struct{})
	var handled atomic.Int64
	var once sync.Once
	h := getty.HandlerFuncs[[]byte]{
		Message: func(*getty.Session[[]byte], []byte) {
			once.Do(func() { <-gate })
			handled.Add(1)
		},
	}
	srv, addr := serve(t, h, getty.Options{TaskPool: pool, ReadBufferSize: 4096, MaxReadBufferSize: 4096})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chunk := make([]byte, 0, 64<<10)
	for i := 0; len(chunk)+20 <= cap(chunk); i++ {
		chunk = append(chunk, frame(uint32(i), 16)...)
	}
	perChunk := len(chunk) / 24
	sent := 0
	for ; sent < 64<<20; sent += len(chunk) {
		c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Write(chunk); err != nil {
			if !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
				t.Fatal(err)
			}
			break
		}
	}
	if sent >= 64<<20 {
		t.Fatal("64 MiB written to a session whose handler is stuck: no back-pressure")
	}
	var in uint64
	srv.Range(func(s *getty.Session[[]byte]) bool { in = s.Stats().PackagesIn; return false })
	t.Logf("peer wrote %d KiB before stalling; the server decoded %d packages", sent>>10, in)
	close(gate)
	c.SetWriteDeadline(time.Time{})
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
	if handled.Load() < int64(sent/len(chunk)*perChunk) {
		t.Errorf("handled %d packages of at least %d sent", handled.Load(), sent/len(chunk)*perChunk)
	}
}

// waitUntil polls cond (bounded) until it holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A client with a pool works the same way.
func TestClientWithPool(t *testing.T) {
	t.Parallel()
	pool := newPool(t, taskpool.Options{Workers: 2})
	_, addr := serve(t, &echoHandler{}, getty.Options{})
	got := make(chan []byte, 100)
	h := getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], pkg []byte) { got <- pkg }}
	cl, err := getty.Dial[[]byte](context.Background(), tcp.Dialer{Addr: addr}, lengthfield.Codec{}, h,
		&getty.ClientOptions{Options: getty.Options{TaskPool: pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s, err := cl.Session()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := s.Write(frame(uint32(i), 8)[4:]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 100 {
		if seq := binary.BigEndian.Uint32(<-got); seq != uint32(i) {
			t.Fatalf("reply %d carries %d", i, seq)
		}
	}
}

// Cron ticks are submitted by the shared timing wheel: a session whose
// mailbox is full must not block it (under Block) and so stall every
// other session's timers. Here a stuck session fills its mailbox while
// another session's read timeout must still fire.
func TestServerCronDoesNotBlockTheWheel(t *testing.T) {
	t.Parallel()
	pool := newPool(t, taskpool.Options{Workers: 2, QueueSize: 1})
	gate := make(chan struct{})
	var stuck atomic.Bool
	closed := make(chan error, 2)
	h := getty.HandlerFuncs[[]byte]{
		Message: func(*getty.Session[[]byte], []byte) {
			if stuck.CompareAndSwap(false, true) {
				<-gate
			}
		},
		Close: func(s *getty.Session[[]byte]) { closed <- s.Err() },
	}
	_, addr := serve(t, h, getty.Options{TaskPool: pool, CronPeriod: 2 * time.Millisecond,
		TimerTick: time.Millisecond, ReadTimeout: 100 * time.Millisecond})
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i := range 3 {
		a.Write(frame(uint32(i), 8))
	}
	waitUntil(t, "the stuck handler", stuck.Load)
	time.Sleep(20 * time.Millisecond) // several cron ticks of the stuck session
	b, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	select {
	case err := <-closed:
		if !errors.Is(err, getty.ErrReadTimeout) {
			t.Fatalf("idle session closed with %v, want ErrReadTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the idle session's read timeout never fired: the timing wheel is blocked")
	}
	close(gate)
	<-closed
}

// Two servers sharing a pool number their sessions from 1 alike; their
// first sessions must still get different keys, or a stuck one would hold
// up the other.
func TestServersSharingAPool(t *testing.T) {
	t.Parallel()
	pool := newPool(t, taskpool.Options{Workers: 2})
	gate := make(chan struct{})
	var stuck atomic.Bool
	hA := getty.HandlerFuncs[[]byte]{Message: func(*getty.Session[[]byte], []byte) {
		stuck.Store(true)
		<-gate
	}}
	_, addrA := serve(t, hA, getty.Options{TaskPool: pool})
	_, addrB := serve(t, &echoHandler{}, getty.Options{TaskPool: pool})
	a, err := net.Dial("tcp", addrA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Write(frame(0, 8))
	waitUntil(t, "server A's stuck handler", stuck.Load)
	if err := pipeline(addrB, 50, 8); err != nil {
		t.Errorf("server B's first session, while server A's is stuck: %v", err)
	}
	close(gate)
}
