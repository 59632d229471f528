package getty_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/internal/testutil"
)

func oneError(t *testing.T, errs []error, want error) {
	t.Helper()
	if len(errs) != 1 || !errors.Is(errs[0], want) {
		t.Fatalf("OnError got %v, want exactly one %v", errs, want)
	}
}

func TestPartialAndCoalescedOverPipe(t *testing.T) {
	// net.Pipe delivers each Write as its own Read, so splitting the stream
	// at every byte reaches the decoder as exactly those pieces.
	stream := append(append(frame([]byte("alpha")), frame(nil)...), frame(payload(1, 300))...)
	for cut := 1; cut < len(stream); cut++ {
		srv, conns := pipeServer(t, newRecorder(t, true), nil)
		c := <-conns
		go func() {
			c.Write(stream[:cut])
			c.Write(stream[cut:])
		}()
		for i, want := range [][]byte{[]byte("alpha"), nil, payload(1, 300)} {
			p, err := readFrame(c)
			if err != nil || string(p) != string(want) {
				t.Fatalf("cut %d package %d: %q %v", cut, i, p, err)
			}
		}
		c.Close()
		srv.Close()
	}
}

func TestCoalescedPackagesInOneWrite(t *testing.T) { forEngines(t, testCoalescedPackagesInOneWrite) }

func testCoalescedPackagesInOneWrite(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	var all []byte
	for i := range 3 {
		all = append(all, frame(payload(i, 10+i))...)
	}
	if _, err := c.Write(all); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 3 {
		p, err := readFrame(c)
		if err != nil || string(p) != string(payload(i, 10+i)) {
			t.Fatalf("package %d: %v", i, err)
		}
	}
}

func TestOversizedLengthClosesSession(t *testing.T) { forEngines(t, testOversizedLengthClosesSession) }

func testOversizedLengthClosesSession(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	_, l := serve(t, env, rec, &getty.ServerOptions{Options: getty.Options{MaxPackageSize: 1 << 20}})
	for _, n := range []uint32{1<<20 - 3, 1 << 31, 1<<32 - 1} { // one over the limit, negative as int32, huge
		c := dialRaw(t, l)
		var h [4]byte
		binary.BigEndian.PutUint32(h[:], n)
		c.Write(h[:])
		cause, errs := rec.waitClosed(t)
		if !errors.Is(cause, getty.ErrMessageTooLarge) {
			t.Errorf("length %d: cause %v", n, cause)
		}
		oneError(t, errs, getty.ErrMessageTooLarge)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(h[:]); err == nil {
			t.Error("connection still open")
		}
	}
	// At the limit is fine.
	c := dialRaw(t, l)
	big := payload(3, 1<<20-4)
	go c.Write(frame(big))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if p, err := readFrame(c); err != nil || len(p) != len(big) {
		t.Fatalf("package at the limit: %d bytes, %v", len(p), err)
	}
}

func TestPeerClosesMidPackage(t *testing.T) { forEngines(t, testPeerClosesMidPackage) }

func testPeerClosesMidPackage(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	f := frame(payload(1, 1000))
	c.Write(f[:600])
	c.Close()
	cause, errs := rec.waitClosed(t)
	if !errors.Is(cause, io.ErrUnexpectedEOF) {
		t.Errorf("cause %v", cause)
	}
	oneError(t, errs, io.ErrUnexpectedEOF)
	if rec.msgs.Load() != 0 {
		t.Error("half a package was delivered")
	}
}

func TestPeerClosesCleanly(t *testing.T) { forEngines(t, testPeerClosesCleanly) }

func testPeerClosesCleanly(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	c.Write(frame([]byte("bye")))
	if p, err := readFrame(c); err != nil || string(p) != "bye" {
		t.Fatal(p, err)
	}
	c.Close()
	cause, errs := rec.waitClosed(t)
	if !errors.Is(cause, io.EOF) || len(errs) != 0 {
		t.Errorf("cause %v errors %v", cause, errs)
	}
}

func TestPeerReset(t *testing.T) { forEngines(t, testPeerReset) }

func testPeerReset(t *testing.T, env *testutil.Env) {
	started := make(chan *getty.Session[[]byte], 1)
	rec := newRecorder(t, false)
	rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	s := <-started
	// Queue data the peer never reads, then reset: both the pending write
	// and the read must fail cleanly.
	go func() {
		for s.Write(payload(1, 64<<10)) == nil {
		}
	}()
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	cause, errs := rec.waitClosed(t)
	if cause == nil || errors.Is(cause, io.EOF) {
		t.Errorf("cause %v", cause)
	}
	if len(errs) != 1 || !errors.Is(errs[0], syscall.ECONNRESET) && !errors.Is(errs[0], syscall.EPIPE) {
		t.Errorf("errors %v", errs)
	}
}

func TestSilentPeerClosedAtReadTimeout(t *testing.T) {
	forEngines(t, testSilentPeerClosedAtReadTimeout)
}

func testSilentPeerClosedAtReadTimeout(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	const timeout = 200 * time.Millisecond
	_, l := serve(t, env, rec, &getty.ServerOptions{Options: getty.Options{ReadTimeout: timeout}})
	c := dialRaw(t, l)
	var last time.Time
	// Traffic keeps the session alive past several timeouts.
	for range 5 {
		last = time.Now()
		c.Write(frame([]byte("ping")))
		if _, err := readFrame(c); err != nil {
			t.Fatal(err)
		}
		time.Sleep(timeout / 2) // the peer's think time, not synchronisation
	}
	cause, errs := rec.waitClosed(t)
	if !errors.Is(cause, getty.ErrReadTimeout) {
		t.Fatalf("cause %v", cause)
	}
	oneError(t, errs, getty.ErrReadTimeout)
	// The wheel's tick (10 ms) is the granularity of the check.
	if idle := time.Since(last); idle < timeout-20*time.Millisecond {
		t.Errorf("closed %v after the last package: sooner than the timeout", idle)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("peer read after timeout: %v", err)
	}
}

func TestSlowReaderHitsBacklogBound(t *testing.T) { forEngines(t, testSlowReaderHitsBacklogBound) }

func testSlowReaderHitsBacklogBound(t *testing.T, env *testutil.Env) {
	started := make(chan *getty.Session[[]byte], 1)
	rec := newRecorder(t, false)
	rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
	const backlog = 1 << 20
	_, l := serve(t, env, rec, &getty.ServerOptions{Options: getty.Options{MaxWriteBacklog: backlog}})
	c := dialRaw(t, l)
	s := <-started
	chunk := payload(1, 16<<10)
	var full error
	var heapBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapBefore)
	writes := 0
	// A flusher goroutine blocks in the kernel once the socket buffers
	// fill; the following writes queue until the bound.
	go s.Write(chunk)
	for writes = 0; writes < 100000; writes++ {
		if full = s.Write(chunk); full != nil {
			break
		}
	}
	if !errors.Is(full, getty.ErrWriteQueueFull) {
		t.Fatalf("after %d writes: %v", writes, full)
	}
	if b := s.Stats().Backlog; b > backlog+2*len(chunk)+4<<10 {
		t.Errorf("backlog %d exceeds the bound %d", b, backlog)
	}
	var heapAfter runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&heapAfter)
	if grow := int64(heapAfter.HeapAlloc) - int64(heapBefore.HeapAlloc); grow > 16<<20 {
		t.Errorf("heap grew by %d bytes for a 1 MiB backlog", grow)
	}
	// The session still works once the peer reads.
	go io.Copy(io.Discard, c)
	deadline := time.Now().Add(10 * time.Second)
	for s.Write(chunk) != nil {
		if time.Now().After(deadline) {
			t.Fatal("backlog never drained")
		}
		runtime.Gosched()
	}
}

func TestBlockingBacklogEndsAtWriteTimeout(t *testing.T) {
	forEngines(t, testBlockingBacklogEndsAtWriteTimeout)
}

func testBlockingBacklogEndsAtWriteTimeout(t *testing.T, env *testutil.Env) {
	started := make(chan *getty.Session[[]byte], 1)
	rec := newRecorder(t, false)
	rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
	_, l := serve(t, env, rec, &getty.ServerOptions{Options: getty.Options{
		MaxWriteBacklog: 256 << 10, BlockOnBacklog: true, WriteTimeout: 300 * time.Millisecond}})
	dialRaw(t, l) // never reads
	s := <-started
	chunk := payload(1, 32<<10)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if err := s.Write(chunk); err != nil {
					if !errors.Is(err, getty.ErrSessionClosed) && !errors.Is(err, getty.ErrWriteTimeout) {
						t.Errorf("blocked write ended with %v", err)
					}
					return
				}
			}
		}()
	}
	cause, errs := rec.waitClosed(t)
	wg.Wait()
	if !errors.Is(cause, getty.ErrWriteTimeout) {
		t.Errorf("cause %v", cause)
	}
	oneError(t, errs, getty.ErrWriteTimeout)
}

// TestBlockingBacklogInCallback checks BlockOnBacklog for writes made by
// OnOpen, OnMessage and OnCron: a reply larger than the backlog waits for a
// peer that reads it all, and is written whole. On the event loop such a
// write waits where the flusher's wake-ups come from: on the loop itself,
// before the loop watches the connection, or while the loop waits to
// dispatch a package until OnCron returns.
func TestBlockingBacklogInCallback(t *testing.T) {
	forEngines(t, func(t *testing.T, env *testutil.Env) {
		const chunks, size = 128, 64 << 10
		chunk := payload(1, size)
		for _, in := range []string{"OnOpen", "OnMessage", "OnCron"} {
			t.Run(in, func(t *testing.T) {
				replied := make(chan error, 1)
				var once sync.Once
				reply := func(s *getty.Session[[]byte]) {
					once.Do(func() {
						for range chunks {
							if err := s.Write(chunk); err != nil {
								replied <- err
								return
							}
						}
						replied <- nil
					})
				}
				h := getty.HandlerFuncs[[]byte]{Message: func(*getty.Session[[]byte], []byte) {}}
				switch in {
				case "OnOpen":
					h.Open = func(s *getty.Session[[]byte]) error { reply(s); return nil }
				case "OnMessage":
					h.Message = func(s *getty.Session[[]byte], _ []byte) { reply(s) }
				case "OnCron":
					h.Cron = reply
				}
				_, l := serve(t, env, h, &getty.ServerOptions{Options: getty.Options{CronPeriod: 20 * time.Millisecond,
					MaxWriteBacklog: 256 << 10, BlockOnBacklog: true, WriteTimeout: 2 * time.Second}})
				conn := dialRaw(t, l)
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				// A slow reader, so that the server's socket buffer fills; its
				// package comes while OnOpen's or OnCron's reply waits.
				time.Sleep(100 * time.Millisecond)
				if _, err := conn.Write(frame([]byte("go"))); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
				if n, err := io.CopyN(io.Discard, conn, chunks*(size+4)); err != nil {
					t.Fatalf("read %d of %d bytes: %v", n, chunks*(size+4), err)
				}
				if err := <-replied; err != nil {
					t.Fatalf("reply: %v", err)
				}
			})
		}
	})
}

func TestOnOpenRejects(t *testing.T) { forEngines(t, testOnOpenRejects) }

func testOnOpenRejects(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	rec.onOpen = func(*getty.Session[[]byte]) error { return errors.New("not today") }
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	cause, errs := rec.waitClosed(t)
	if !errors.Is(cause, getty.ErrRejected) {
		t.Errorf("cause %v", cause)
	}
	oneError(t, errs, getty.ErrRejected)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("rejected connection still open")
	}
	rec.checkClosedOnce(t)
}

func TestHandlerPanicClosesOnlyItsSession(t *testing.T) {
	forEngines(t, testHandlerPanicClosesOnlyItsSession)
}

func testHandlerPanicClosesOnlyItsSession(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	rec.onMsg = func(_ *getty.Session[[]byte], p []byte) {
		if string(p) == "boom" {
			panic("boom")
		}
	}
	_, l := serve(t, env, rec, nil)
	good, bad := dialRaw(t, l), dialRaw(t, l)
	bad.Write(frame([]byte("boom")))
	cause, errs := rec.waitClosed(t)
	if !errors.Is(cause, getty.ErrPanic) {
		t.Errorf("cause %v", cause)
	}
	oneError(t, errs, getty.ErrPanic)
	good.Write(frame([]byte("still here")))
	good.SetReadDeadline(time.Now().Add(5 * time.Second))
	if p, err := readFrame(good); err != nil || string(p) != "still here" {
		t.Fatal(p, err)
	}
}

// boomCodec is lengthfield's Decode and Encode, but Encode panics on a
// package that starts with "boom".
type boomCodec struct{}

func (boomCodec) Decode(data []byte, max int) ([]byte, int, error) {
	return lengthfield.Codec{}.Decode(data, max)
}

func (boomCodec) Encode(dst []byte, p []byte) ([]byte, error) {
	if bytes.HasPrefix(p, []byte("boom")) {
		panic("codec boom")
	}
	return lengthfield.Codec{}.Encode(dst, p)
}

// boomHeaderCodec is boomCodec with an EncodeHeader (zero-copy replies on
// the event loop) that panics as its Encode does.
type boomHeaderCodec struct{ boomCodec }

func (boomHeaderCodec) EncodeHeader(dst []byte, p []byte) ([]byte, []byte, error) {
	if bytes.HasPrefix(p, []byte("boom")) {
		panic("codec boom")
	}
	return lengthfield.Codec{}.EncodeHeader(dst, p)
}

// TestEncodePanicClosesOnlyItsSession checks a codec that panics while a
// callback writes: the panic ends that session as a panic of the callback
// does, and the other sessions (on an event loop, those of the same loop)
// and the server's shutdown go on.
func TestEncodePanicClosesOnlyItsSession(t *testing.T) {
	forEngines(t, func(t *testing.T, env *testutil.Env) {
		cases := []struct {
			name  string
			codec getty.Codec[[]byte]
			opts  getty.Options
		}{
			{name: "Encode", codec: boomCodec{}, opts: getty.Options{EventLoops: 1}},
			{name: "EncodeHeader", codec: boomHeaderCodec{}, opts: getty.Options{EventLoops: 1, ZeroCopyReplies: true}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				rec := newRecorder(t, true)
				_, l := serveCodec(t, env, c.codec, rec, &getty.ServerOptions{Options: c.opts})
				good, bad := dialRaw(t, l), dialRaw(t, l)
				roundTrip(t, good, []byte("before"))
				bad.Write(frame(append([]byte("boom"), payload(1, 600)...)))
				cause, errs := rec.waitClosed(t)
				if !errors.Is(cause, getty.ErrPanic) {
					t.Errorf("cause %v", cause)
				}
				oneError(t, errs, getty.ErrPanic)
				roundTrip(t, good, []byte("after"))
			})
		}
	})
}

func TestMaxSessions(t *testing.T) { forEngines(t, testMaxSessions) }

func testMaxSessions(t *testing.T, env *testutil.Env) {
	started := make(chan *getty.Session[[]byte], 4)
	rec := newRecorder(t, true)
	rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
	srv, l := serve(t, env, rec, &getty.ServerOptions{MaxSessions: 2})
	dialRaw(t, l)
	dialRaw(t, l)
	<-started
	<-started
	extra := dialRaw(t, l)
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection was served")
	}
	if st := srv.Stats(); st.Rejected != 1 || st.SessionsOpen != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestCloseRacesWrite(t *testing.T) { forEngines(t, testCloseRacesWrite) }

func testCloseRacesWrite(t *testing.T, env *testutil.Env) {
	started := make(chan *getty.Session[[]byte], 100)
	rec := newRecorder(t, true)
	rec.onOpen = func(s *getty.Session[[]byte]) error { started <- s; return nil }
	_, l := serve(t, env, rec, nil)
	for range 20 {
		c := dialRaw(t, l)
		go io.Copy(io.Discard, c)
		s := <-started
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					if err := s.Write([]byte("data")); err != nil && !errors.Is(err, getty.ErrSessionClosed) {
						t.Errorf("write: %v", err)
					}
				}
			}()
		}
		wg.Add(2)
		go func() { defer wg.Done(); s.Close() }()
		go func() { defer wg.Done(); s.Close() }()
		wg.Wait()
		rec.waitClosed(t)
	}
	rec.checkClosedOnce(t)
}

func TestCloseFromCallback(t *testing.T) { forEngines(t, testCloseFromCallback) }

func testCloseFromCallback(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, false)
	rec.onMsg = func(s *getty.Session[[]byte], p []byte) {
		s.Write(p) // the reply still goes out: Close is graceful
		s.Close()
		s.Close()
	}
	_, l := serve(t, env, rec, nil)
	c := dialRaw(t, l)
	c.Write(frame([]byte("last words")))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if p, err := readFrame(c); err != nil || string(p) != "last words" {
		t.Fatal(p, err)
	}
	if _, err := readFrame(c); !errors.Is(err, io.EOF) {
		t.Errorf("after close: %v", err)
	}
	cause, _ := rec.waitClosed(t)
	if !errors.Is(cause, getty.ErrSessionClosed) {
		t.Errorf("cause %v", cause)
	}
}
