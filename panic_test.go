package getty_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/taskpool"
)

// panicky panics in one callback of the sessions it dooms (the next to open
// after doomNext), and records what ran.
type panicky struct {
	where    string
	mu       sync.Mutex
	closes   map[uint64]int
	errs     map[uint64][]error
	closedC  chan *getty.Session[[]byte]
	doomed   sync.Map // session id -> true: this session's callback panics
	doomNext chan struct{}
}

func (p *panicky) OnOpen(s *getty.Session[[]byte]) error {
	select {
	case <-p.doomNext:
		p.doomed.Store(s.ID(), true)
	default:
	}
	if p.where == "OnOpen" && p.isDoomed(s) {
		panic("OnOpen went wrong")
	}
	return nil
}

func (p *panicky) isDoomed(s *getty.Session[[]byte]) bool {
	_, ok := p.doomed.Load(s.ID())
	return ok
}

func (p *panicky) OnMessage(s *getty.Session[[]byte], pkg []byte) {
	if p.where == "OnMessage" && p.isDoomed(s) {
		panic("OnMessage went wrong")
	}
	s.Write(pkg) //nolint:errcheck // a failed echo ends the session
}

func (p *panicky) OnCron(s *getty.Session[[]byte]) {
	if p.where == "OnCron" && p.isDoomed(s) {
		panic("OnCron went wrong")
	}
}

func (p *panicky) OnError(s *getty.Session[[]byte], err error) {
	p.mu.Lock()
	p.errs[s.ID()] = append(p.errs[s.ID()], err)
	p.mu.Unlock()
	if p.where == "OnError" && p.isDoomed(s) {
		panic("OnError went wrong")
	}
}

func (p *panicky) OnClose(s *getty.Session[[]byte]) {
	p.mu.Lock()
	p.closes[s.ID()]++
	p.mu.Unlock()
	p.closedC <- s
	if p.where == "OnClose" && p.isDoomed(s) {
		panic("OnClose went wrong")
	}
}

// TestPanicInEveryCallback makes each callback panic for one session, with
// and without a task pool, on both engines: the panic is recovered, the
// session ends (with ErrPanic as its cause when it was open), OnClose runs
// once, and a bystander session and the server carry on.
func TestPanicInEveryCallback(t *testing.T) {
	for _, where := range []string{"OnOpen", "OnMessage", "OnCron", "OnError", "OnClose"} {
		for _, pooled := range []bool{false, true} {
			name := where
			if pooled {
				name += "/taskpool"
			}
			t.Run(name, func(t *testing.T) {
				forEngines(t, func(t *testing.T, env *testutil.Env) { testPanicIn(t, env, where, pooled) })
			})
		}
	}
}

func testPanicIn(t *testing.T, env *testutil.Env, where string, pooled bool) {
	h := &panicky{where: where, closes: map[uint64]int{}, errs: map[uint64][]error{},
		closedC: make(chan *getty.Session[[]byte], 16), doomNext: make(chan struct{}, 1)}
	opts := &getty.ServerOptions{Options: getty.Options{CronPeriod: 20 * time.Millisecond}}
	if pooled {
		pool, err := taskpool.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := pool.Close(ctx); err != nil {
				t.Error(err)
			}
		})
		opts.TaskPool = pool
	}
	srv, l := serve(t, env, h, opts)

	bystander := dialRaw(t, l)
	roundTrip(t, bystander, []byte("before"))
	h.doomNext <- struct{}{}
	doomed := dialRaw(t, l)
	switch where {
	case "OnError":
		doomed.Write([]byte{0xff, 0xff, 0xff, 0xff}) // too large: the session ends with an error to report
	case "OnClose":
		roundTrip(t, doomed, []byte("trigger"))
		doomed.Close()
	default:
		doomed.Write(frame([]byte("trigger")))
	}

	var s *getty.Session[[]byte]
	select {
	case s = <-h.closedC:
	case <-time.After(10 * time.Second):
		t.Fatal("the doomed session never closed")
	}
	if !h.isDoomed(s) {
		t.Fatalf("session %d closed, not the doomed one", s.ID())
	}
	cause := s.Err()
	h.mu.Lock()
	errs := append([]error(nil), h.errs[s.ID()]...)
	h.mu.Unlock()
	switch where {
	case "OnOpen", "OnMessage", "OnCron":
		if !errors.Is(cause, getty.ErrPanic) {
			t.Errorf("cause %v, want ErrPanic", cause)
		}
		if len(errs) != 1 || !errors.Is(errs[0], getty.ErrPanic) {
			t.Errorf("OnError got %v, want one ErrPanic", errs)
		}
	case "OnError":
		// The panic comes after the cause is set: logged, the cause kept,
		// OnClose still runs.
		if !errors.Is(cause, getty.ErrMessageTooLarge) || len(errs) != 1 {
			t.Errorf("cause %v, errors %v: want the ErrMessageTooLarge that OnError got", cause, errs)
		}
	case "OnClose":
		if errors.Is(cause, getty.ErrPanic) || len(errs) != 0 {
			t.Errorf("cause %v, errors %v: a panic in OnClose changed them", cause, errs)
		}
	}
	roundTrip(t, bystander, []byte("after"))
	// The server still accepts.
	roundTrip(t, dialRaw(t, l), []byte("newcomer"))
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().SessionsOpen != 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Stats().SessionsOpen; n != 2 {
		t.Errorf("%d sessions open, want the bystander and the newcomer", n)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.closes {
		if n != 1 {
			t.Errorf("session %d: OnClose ran %d times", id, n)
		}
	}
}
