package getty_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/testutil"
)

func TestMaxSessionsPerIP(t *testing.T) { forEngines(t, testMaxSessionsPerIP) }

func testMaxSessionsPerIP(t *testing.T, env *testutil.Env) {
	rec := newRecorder(t, true)
	srv, l := serve(t, env, rec, &getty.ServerOptions{MaxSessionsPerIP: 2})
	dialFrom := func(ip string) net.Conn {
		t.Helper()
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	echoes := func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(frame([]byte("hi"))); err != nil {
			return err
		}
		p, err := readFrame(c)
		if err == nil && string(p) != "hi" {
			err = errors.New("wrong echo")
		}
		return err
	}
	a, b := dialFrom("127.0.0.1"), dialFrom("127.0.0.1")
	for _, c := range []net.Conn{a, b} {
		if err := echoes(c); err != nil {
			t.Fatalf("within the limit: %v", err)
		}
	}
	third := dialFrom("127.0.0.1")
	if err := echoes(third); err == nil {
		t.Fatal("a third session from 127.0.0.1 was served")
	}
	if got := srv.Stats().RejectedLimit; got != 1 {
		t.Errorf("RejectedLimit %d, want 1", got)
	}
	// Another address of the loopback network is another IP.
	if err := echoes(dialFrom("127.0.0.2")); err != nil {
		t.Fatalf("127.0.0.2: %v", err)
	}
	// A closed session frees its place (just after OnClose, once the
	// session's goroutine or loop has let it go).
	a.Close()
	rec.waitClosed(t)
	var err error
	waitFor(t, "a place after one closed", func() bool {
		err = echoes(dialFrom("127.0.0.1"))
		return err == nil
	})
}

func TestFirstPackageTimeout(t *testing.T) { forEngines(t, testFirstPackageTimeout) }

func testFirstPackageTimeout(t *testing.T, env *testutil.Env) {
	const limit = 300 * time.Millisecond
	rec := newRecorder(t, true)
	_, l := serve(t, env, rec, &getty.ServerOptions{FirstPackageTimeout: limit})

	// A polite client sends its first package at once and stays long after
	// the deadline.
	polite := dialRaw(t, l)
	polite.Write(frame([]byte("hello")))
	polite.SetReadDeadline(time.Now().Add(5 * time.Second))
	if p, err := readFrame(polite); err != nil || string(p) != "hello" {
		t.Fatalf("polite client: %q %v", p, err)
	}

	// A slowloris peer drips a 100-byte package one byte per 50 ms (it
	// would take 5 s); a silent one sends nothing.
	drip := dialRaw(t, l)
	silent := dialRaw(t, l)
	start := time.Now()
	stop := make(chan struct{})
	dripped := make(chan int, 1)
	go func() {
		f := frame(payload(3, 96))
		n := 0
		defer func() { dripped <- n }()
		for ; n < len(f); n++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := drip.Write(f[n : n+1]); err != nil {
				return
			}
		}
	}()
	for range 2 {
		cause, _ := rec.waitClosed(t)
		if !errors.Is(cause, getty.ErrFirstPackageTimeout) || !errors.Is(cause, getty.ErrReadTimeout) {
			t.Errorf("cause %v, want ErrFirstPackageTimeout", cause)
		}
	}
	took := time.Since(start)
	close(stop)
	if took < limit-20*time.Millisecond || took > limit+3*time.Second {
		t.Errorf("cut off after %v, deadline %v", took, limit)
	}
	t.Logf("slowloris peer cut off after %d bytes, %v", <-dripped, took.Round(time.Millisecond))
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Error("silent peer still connected")
	} else if !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("silent peer read: %v", err)
	}
	// The polite client is still served.
	if _, err := polite.Write(frame([]byte("again"))); err != nil {
		t.Fatal(err)
	}
	if p, err := readFrame(polite); err != nil || string(p) != "again" {
		t.Fatalf("polite client after the deadline: %q %v", p, err)
	}
}

// A first package that arrived in time counts while its handler still
// runs: a slow first handler does not trip FirstPackageTimeout, even when
// more packages came in the same read.
func TestFirstPackageCountsWhileHandled(t *testing.T) {
	forEngines(t, func(t *testing.T, env *testutil.Env) {
		const limit = 100 * time.Millisecond
		h := getty.HandlerFuncs[[]byte]{Message: func(s *getty.Session[[]byte], p []byte) {
			if string(p) == "slow" {
				time.Sleep(4 * limit)
			}
			s.Write(p) //nolint:errcheck // the client checks the replies
		}}
		_, l := serve(t, env, h, &getty.ServerOptions{FirstPackageTimeout: limit})
		c := dialRaw(t, l)
		two := append(frame([]byte("slow")), frame([]byte("next"))...)
		if _, err := c.Write(two); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for _, want := range []string{"slow", "next"} {
			if p, err := readFrame(c); err != nil || string(p) != want {
				t.Fatalf("reply %q, %v; want %q (closed by the first-package timeout?)", p, err, want)
			}
		}
	})
}
