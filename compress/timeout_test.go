package compress_test

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/compress"
	kflate "github.com/klauspost/compress/flate"
)

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleCPU measures the CPU the process uses over window.
func idleCPU(t *testing.T, window time.Duration) time.Duration {
	t.Helper()
	before := cpuTime(t)
	<-time.After(window) // the measurement window itself, not a synchronisation
	return cpuTime(t) - before
}

// closeLog records how each server session ended.
type closeLog struct {
	mu     sync.Mutex
	closes map[uint64]int
	errs   map[uint64][]error
	causes map[uint64]error
	events chan uint64
}

func newCloseLog() *closeLog {
	return &closeLog{closes: map[uint64]int{}, errs: map[uint64][]error{}, causes: map[uint64]error{}, events: make(chan uint64, 64)}
}

func (l *closeLog) handler() getty.Handler[[]byte] {
	return getty.HandlerFuncs[[]byte]{
		Message: func(s *getty.Session[[]byte], p []byte) { s.Write(p) }, //nolint:errcheck // echo
		Error: func(s *getty.Session[[]byte], err error) {
			l.mu.Lock()
			l.errs[s.ID()] = append(l.errs[s.ID()], err)
			l.mu.Unlock()
		},
		Close: func(s *getty.Session[[]byte]) {
			l.mu.Lock()
			l.closes[s.ID()]++
			l.causes[s.ID()] = s.Err()
			l.mu.Unlock()
			l.events <- s.ID()
		},
	}
}

// TestSilentPeerTimesOutOnceAndIdles is the seed scenario: compression on,
// ReadTimeout 200 ms, the peer goes silent. For every algorithm, and for a
// peer silent after a whole exchange, one silent from the start and one
// silent in the middle of a compressed frame, the server session ends once
// with ErrReadTimeout, and afterwards the process is idle: the CPU time it
// uses over the next second stays near zero (a read loop spinning on a
// sticky error would burn a whole core, ~1 s). Servers and clients run on
// both engines at once.
//
// Not parallel: nothing else may use CPU during the measurement.
func TestSilentPeerTimesOutOnceAndIdles(t *testing.T) {
	const perAlg = 3
	type key struct {
		alg compress.Algorithm
		n   network
	}
	logs := map[key]*closeLog{}
	var keys []key
	for _, alg := range compress.Algorithms() {
		for _, n := range engines(netTCP) {
			keys = append(keys, key{alg, n})
		}
	}
	for _, k := range keys {
		alg := k.alg
		cfg := &compress.Config{Algorithm: alg}
		log := newCloseLog()
		logs[k] = log
		opts := &getty.ServerOptions{Options: getty.Options{ReadTimeout: 200 * time.Millisecond}}
		d := serve(t, k.n, cfg, opts, log.handler())

		// A getty client that talks once, then goes silent.
		col := newCollector(1)
		c := dial(t, d, cfg, nil, col.handler())
		s, err := c.Session()
		if err != nil {
			t.Fatal(err)
		}
		hello := payload(4<<10, true, 1)
		if err := s.Write(hello); err != nil {
			t.Fatal(err)
		}
		if got := col.next(t); !bytes.Equal(got, hello) {
			t.Fatal("echo differs")
		}

		// A raw peer that never sends a byte.
		silent := rawDial(t, d)
		_ = silent

		// A raw peer that stops in the middle of a compressed frame.
		wire := frames(t, cfg, pkgFrame(payload(32<<10, true, 2)))
		if wire[0]&0x10 == 0 {
			t.Fatalf("%v: the frame was not compressed", alg)
		}
		half := rawDial(t, d)
		if _, err := half.Write(wire[:len(wire)/2]); err != nil {
			t.Fatal(err)
		}
	}

	// Every server session closes, within a bounded time.
	deadline := time.After(10 * time.Second)
	for _, k := range keys {
		for range perAlg {
			select {
			case <-logs[k].events:
			case <-deadline:
				t.Fatalf("%v on %s: server sessions still open after 10 s", k.alg, k.n)
			}
		}
	}

	spent := idleCPU(t, time.Second)
	t.Logf("CPU time used by the process in the second after the timeouts: %v", spent)
	if spent > 150*time.Millisecond {
		t.Errorf("the process used %v of CPU in the idle second after the timeouts; want near zero", spent)
	}

	for _, k := range keys {
		alg, l := fmt.Sprintf("%v on %s", k.alg, k.n), logs[k]
		l.mu.Lock()
		if len(l.closes) != perAlg {
			t.Errorf("%v: %d sessions closed, want %d", alg, len(l.closes), perAlg)
		}
		for id, n := range l.closes {
			if n != 1 {
				t.Errorf("%v: session %d closed %d times", alg, id, n)
			}
			if cause := l.causes[id]; !errors.Is(cause, getty.ErrReadTimeout) {
				t.Errorf("%v: session %d ended with %v, want ErrReadTimeout", alg, id, cause)
			}
			if errs := l.errs[id]; len(errs) != 1 || !errors.Is(errs[0], getty.ErrReadTimeout) {
				t.Errorf("%v: session %d reported %v, want ErrReadTimeout once", alg, id, errs)
			}
		}
		l.mu.Unlock()
	}
}

// rawDial opens a plain stream to the server behind d.
func rawDial(t *testing.T, d getty.Dialer) net.Conn {
	t.Helper()
	c, err := d.Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	nc := c.(net.Conn)
	t.Cleanup(func() { nc.Close() })
	return nc
}

// TestHeartbeatsKeepQuietLinkOpen: both ends have a 300 ms ReadTimeout and
// send a heartbeat from OnCron every 20 ms (every fifth one large enough to
// be compressed). The link survives five read timeouts' worth of time; once
// the client stops its heartbeats the server ends the session once with
// ErrReadTimeout.
//
// The cron period leaves ample slack below the timeout, and the test is not
// parallel with the heavy tests of this package: a loaded machine, with the
// race detector, can stall a process for a good part of 200 ms.
func TestHeartbeatsKeepQuietLinkOpen(t *testing.T) {
	for _, alg := range compress.Algorithms() {
		for _, n := range engines(netTCP) {
			t.Run(alg.String()+"/"+n.engine().String(), func(t *testing.T) {
				t.Parallel() // with the other algorithms and engines only
				testHeartbeats(t, n, alg)
			})
		}
	}
}

func testHeartbeats(t *testing.T, n network, alg compress.Algorithm) {
	cfg := &compress.Config{Algorithm: alg}
	big := payload(2<<10, true, 3)
	beat := func(n *atomic.Int64) func(s *getty.Session[[]byte]) {
		return func(s *getty.Session[[]byte]) {
			p := []byte("ping")
			if n.Add(1)%5 == 0 {
				p = big
			}
			s.Write(p) //nolint:errcheck // a failed write ends the session; the test sees it
		}
	}
	var srvBeats, cliBeats atomic.Int64
	srvGot := make(chan struct{}, 1024)
	log := newCloseLog()
	srvH := log.handler().(getty.HandlerFuncs[[]byte])
	srvH.Message = func(*getty.Session[[]byte], []byte) { srvGot <- struct{}{} }
	srvH.Cron = beat(&srvBeats)
	timeouts := getty.Options{ReadTimeout: 300 * time.Millisecond, CronPeriod: 20 * time.Millisecond}
	d := serve(t, n, cfg, &getty.ServerOptions{Options: timeouts}, srvH)

	var quiet atomic.Bool
	cliGot := make(chan struct{}, 1024)
	cliClosed := make(chan error, 1)
	cliH := getty.HandlerFuncs[[]byte]{
		Message: func(*getty.Session[[]byte], []byte) { cliGot <- struct{}{} },
		Cron: func(s *getty.Session[[]byte]) {
			if !quiet.Load() {
				beat(&cliBeats)(s)
			}
		},
		Close: func(s *getty.Session[[]byte]) { cliClosed <- s.Err() },
	}
	dial(t, d, cfg, &getty.ClientOptions{Options: timeouts}, cliH)

	// 75 heartbeats each way: 1.5 s, five read timeouts.
	deadline := time.After(20 * time.Second)
	for i := range 75 {
		select {
		case <-srvGot:
		case <-deadline:
			t.Fatalf("server got %d heartbeats", i)
		case id := <-log.events:
			t.Fatalf("server session %d closed while heartbeats flowed: %v", id, log.causes[id])
		}
	}
	for i := range 75 {
		select {
		case <-cliGot:
		case <-deadline:
			t.Fatalf("client got %d heartbeats", i)
		case err := <-cliClosed:
			t.Fatalf("client session closed while heartbeats flowed: %v", err)
		}
	}

	// The client falls silent: the server times it out, once.
	quiet.Store(true)
	select {
	case <-log.events:
	case <-deadline:
		t.Fatal("server session still open after the client fell silent")
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for id, n := range log.closes {
		if n != 1 || !errors.Is(log.causes[id], getty.ErrReadTimeout) || len(log.errs[id]) != 1 {
			t.Errorf("session %d: closed %d times, cause %v, errors %v; want once, ErrReadTimeout", id, n, log.causes[id], log.errs[id])
		}
	}
}

// TestDeadlineMidFrameResumes shows a read deadline is not sticky: a
// deadline that expires in the middle of a frame fails that ReadMessage
// with a timeout, and once the deadline is lifted the same frame completes.
func TestDeadlineMidFrameResumes(t *testing.T) {
	t.Parallel()
	for _, alg := range compress.Algorithms() {
		t.Run(alg.String(), func(t *testing.T) {
			t.Parallel()
			a, b := tcpPair(t)
			cfg := &compress.Config{Algorithm: alg}
			c, err := compress.NewConn(a, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg := payload(20<<10, true, 4)
			wire := frames(t, cfg, msg)
			for _, cut := range []int{0, 3, len(wire) / 2} {
				if _, err := b.Write(wire[:cut]); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
				_, err := c.ReadMessage(1 << 20)
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("cut %d: got %v, want a timeout", cut, err)
				}
				c.SetReadDeadline(time.Time{})
				if _, err := b.Write(wire[cut:]); err != nil {
					t.Fatal(err)
				}
				m, err := c.ReadMessage(1 << 20)
				if err != nil {
					t.Fatalf("cut %d: after the deadline was lifted: %v", cut, err)
				}
				if !bytes.Equal(m.Data, msg) {
					t.Fatalf("cut %d: message differs", cut)
				}
			}
		})
	}
}

// TestStreamDecompressorKeepsDeadlineError documents the original bug's
// cause: a stream decompressor wrapped around a connection keeps the first
// error of the connection, a deadline included, and returns it forever,
// without reading again even when the deadline is gone and data is there.
// A read loop that retries on timeouts then spins.
func TestStreamDecompressorKeepsDeadlineError(t *testing.T) {
	t.Parallel()
	readers := map[string]func(io.Reader) io.Reader{
		"compress/flate":           func(r io.Reader) io.Reader { return stdflate.NewReader(r) },
		"klauspost/compress/flate": func(r io.Reader) io.Reader { return kflate.NewReader(r) },
	}
	for name, newReader := range readers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, b := tcpPair(t)
			zr := newReader(a)
			a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			buf := make([]byte, 64)
			_, err := zr.Read(buf)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("first read: %v, want a timeout", err)
			}
			// Lift the deadline and send a valid deflate stream.
			a.SetReadDeadline(time.Time{})
			var z bytes.Buffer
			zw, _ := stdflate.NewWriter(&z, 1)
			zw.Write([]byte("hello"))
			zw.Close()
			if _, err := b.Write(z.Bytes()); err != nil {
				t.Fatal(err)
			}
			for range 1000 { // a spinning loop, in miniature: no read blocks
				_, err2 := zr.Read(buf)
				if !errors.Is(err2, err) {
					t.Fatalf("the decompressor recovered (%v): the sticky-error explanation would be wrong", err2)
				}
			}
		})
	}
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
