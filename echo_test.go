package getty_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/testutil"
)

// TestEchoMatrix echoes packages of many sizes, up to 1 MiB, over every
// stream transport with a getty client, and checks order and content.
func TestEchoMatrix(t *testing.T) {
	for _, tr := range testutil.Streams() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			env := tr.Setup(t)
			rec := newRecorder(t, true)
			_, l := serve(t, env, rec, nil)

			got := make(chan []byte, 64)
			ch := getty.HandlerFuncs[[]byte]{Message: func(_ *getty.Session[[]byte], p []byte) {
				got <- bytes.Clone(p)
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := getty.Dial(ctx, env.Dialer(l.Addr().String()), lengthfield.Codec{}, ch, env.ClientOptions(nil))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := c.Session()
			if err != nil {
				t.Fatal(err)
			}
			sizes := []int{0, 1, 3, 100, 4095, 4096, 4097, 65536, 1 << 20}
			go func() {
				for i, n := range sizes {
					if err := s.Write(payload(i, n)); err != nil {
						t.Errorf("write %d: %v", n, err)
					}
				}
			}()
			for i, n := range sizes {
				select {
				case p := <-got:
					if !bytes.Equal(p, payload(i, n)) {
						t.Fatalf("package %d (%d bytes): got %d bytes, content differs", i, n, len(p))
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("package %d: no echo", i)
				}
			}
		})
	}
}

// TestThousandSessions runs 1,000 concurrent sessions, each echoing 100
// packages; nothing may be lost or reordered.
func TestThousandSessions(t *testing.T) { forEngines(t, testThousandSessions) }

func testThousandSessions(t *testing.T, env *testutil.Env) {
	if testing.Short() {
		t.Skip("load test")
	}
	rec := newRecorder(t, true)
	srv, l := serve(t, env, rec, nil)
	const sessions, packages = 1000, 100
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, l)
			c.SetDeadline(time.Now().Add(60 * time.Second))
			go func() {
				var buf []byte
				for j := range packages {
					buf = append(buf, frame([]byte(fmt.Sprintf("s%d-p%d", i, j)))...)
					if j%10 == 9 {
						if _, err := c.Write(buf); err != nil {
							errs <- err
							return
						}
						buf = buf[:0]
					}
				}
			}()
			for j := range packages {
				p, err := readFrame(c)
				if err != nil {
					errs <- fmt.Errorf("session %d package %d: %w", i, j, err)
					return
				}
				if want := fmt.Sprintf("s%d-p%d", i, j); string(p) != want {
					errs <- fmt.Errorf("got %q want %q", p, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.PackagesIn != sessions*packages || st.PackagesOut != sessions*packages {
		t.Errorf("stats: %+v", st)
	}
}

// TestConcurrentWritesStayWhole writes from many goroutines on one session;
// every package must arrive whole and each writer's packages in order.
func TestConcurrentWritesStayWhole(t *testing.T) { forEngines(t, testConcurrentWritesStayWhole) }

func testConcurrentWritesStayWhole(t *testing.T, env *testutil.Env) {
	const writers, each = 8, 500
	start := make(chan *getty.Session[[]byte], 1)
	rec := newRecorder(t, false)
	rec.onOpen = func(s *getty.Session[[]byte]) error { start <- s; return nil }
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	s := <-start
	for w := range writers {
		go func() {
			for i := range each {
				p := append([]byte{byte(w)}, payload(w*each+i, 1+i%700)...)
				if err := s.Write(p); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	next := make([]int, writers)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for range writers * each {
		p, err := readFrame(c)
		if err != nil {
			t.Fatal(err)
		}
		w := int(p[0])
		i := next[w]
		if !bytes.Equal(p[1:], payload(w*each+i, 1+i%700)) {
			t.Fatalf("writer %d package %d garbled or out of order", w, i)
		}
		next[w]++
	}
}

// TestWriteBuffers sends vectored writes (and raw bytes) that bypass the
// codec, interleaved with codec writes.
func TestWriteBuffers(t *testing.T) { forEngines(t, testWriteBuffers) }

func testWriteBuffers(t *testing.T, env *testutil.Env) {
	start := make(chan *getty.Session[[]byte], 1)
	rec := newRecorder(t, false)
	rec.onOpen = func(s *getty.Session[[]byte]) error { start <- s; return nil }
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	s := <-start
	body := payload(7, 100000)
	hdr := frame(body)[:4]
	go func() {
		for i := range 50 {
			var err error
			switch i % 3 {
			case 0:
				err = s.WriteBuffers([][]byte{hdr, body[:5000], body[5000:]})
			case 1:
				err = s.WriteBytes(frame(body))
			case 2:
				err = s.Write(body)
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := range 50 {
		p, err := readFrame(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, body) {
			t.Fatalf("package %d differs", i)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().PackagesOut != 50 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the last batch's stats land just after its bytes
	}
	if st := s.Stats(); st.PackagesOut != 50 || st.BytesOut != 50*uint64(len(body)+4) {
		t.Errorf("stats %+v", st)
	}
}

// TestSessionBasics covers ids, addresses, attributes, context and Err.
func TestSessionBasics(t *testing.T) { forEngines(t, testSessionBasics) }

func testSessionBasics(t *testing.T, env *testutil.Env) {
	start := make(chan *getty.Session[[]byte], 1)
	rec := newRecorder(t, false)
	rec.onOpen = func(s *getty.Session[[]byte]) error { start <- s; return nil }
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	s := <-start
	if s.ID() == 0 || s.LocalAddr().String() != l.Addr().String() || s.RemoteAddr().String() != c.LocalAddr().String() {
		t.Errorf("id %d local %v remote %v", s.ID(), s.LocalAddr(), s.RemoteAddr())
	}
	s.SetValue("user", "ann")
	if v := s.Value("user"); v != "ann" {
		t.Errorf("Value = %v", v)
	}
	s.SetValue("user", nil)
	if v := s.Value("user"); v != nil {
		t.Errorf("Value after delete = %v", v)
	}
	if s.Err() != nil || s.Closed() {
		t.Error("fresh session reports closed")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, getty.ErrSessionClosed) {
		t.Errorf("second Close = %v", err)
	}
	select {
	case <-s.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("context not cancelled")
	}
	if err := s.Write([]byte("x")); !errors.Is(err, getty.ErrSessionClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	cause, errs := rec.waitClosed(t)
	if !errors.Is(cause, getty.ErrSessionClosed) || len(errs) != 0 {
		t.Errorf("cause %v, errors %v", cause, errs)
	}
	rec.checkClosedOnce(t)
}
