package tcp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty/transport/tcp"
)

// echoer is a lockstep line client that survives its server going away: it
// sends one request, waits for its echo, and when the connection ends
// before the echo comes it dials again and sends the same request. Every
// request so gets exactly one echo, in order.
type echoer struct {
	addr     string
	name     string
	c        net.Conn
	r        *bufio.Reader
	replies  int // echoes received
	sent     int // requests answered, each once
	retries  int // requests sent again on a new connection
	dials    int
	dialErrs int
	locals   []string // local address of each connection
}

func (e *echoer) connect() error {
	for range 50 {
		e.dials++
		c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
		if err != nil {
			e.dialErrs++
			continue
		}
		e.c, e.r = c, bufio.NewReader(c)
		e.locals = append(e.locals, c.LocalAddr().String())
		return nil
	}
	return fmt.Errorf("%s: 50 dials failed", e.name)
}

func (e *echoer) close() {
	if e.c != nil {
		e.c.Close()
		e.c = nil
	}
}

// echo sends request i until it comes back.
func (e *echoer) echo(i int) error {
	want := fmt.Sprintf("%s-%d\n", e.name, i)
	for attempt := 0; attempt < 10; attempt++ {
		if e.c == nil {
			if err := e.connect(); err != nil {
				return err
			}
		}
		if attempt > 0 {
			e.retries++
		}
		e.c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(e.c, want); err != nil {
			e.close()
			continue
		}
		got, err := e.r.ReadString('\n')
		if err != nil {
			e.close()
			continue
		}
		if got != want {
			return fmt.Errorf("%s: request %q answered with %q", e.name, want, got)
		}
		e.replies++
		return nil
	}
	return fmt.Errorf("%s: request %d failed 10 times", e.name, i)
}

// TestReusePortHandover starts a server, lets clients echo through it,
// starts a second server on the same port (SO_REUSEPORT), and drains the
// first with Shutdown while the clients keep echoing: they move to the
// second server without a refused dial, every request is answered exactly
// once, and the first server answered every package it took in.
func TestReusePortHandover(t *testing.T) {
	t.Parallel()
	cfg := &tcp.Config{ReusePort: true}
	l1, err := tcp.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := l1.Addr().String()
	old := serveLines(t, l1, nil)

	const clients, requests = 4, 400
	echoers := make([]*echoer, clients)
	for i := range echoers {
		echoers[i] = &echoer{addr: addr, name: fmt.Sprintf("c%d", i)}
		if err := echoers[i].connect(); err != nil {
			t.Fatal(err)
		}
	}
	for range clients {
		waitOpened(t, old) // every first connection is the old server's
	}
	l2, err := tcp.Listen(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	next := serveLines(t, l2, nil)

	var quarter sync.WaitGroup
	quarter.Add(clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for _, e := range echoers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.close()
			// At least `requests`, and on until the client has moved to
			// the new server (a fast client may finish before the old
			// server's Shutdown reaches its session).
			for i := 0; i < requests || (len(e.locals) < 2 && i < 100*requests); i++ {
				if i == requests/4 {
					quarter.Done()
				}
				if err := e.echo(i); err != nil {
					errs <- err
					return
				}
				e.sent++
			}
		}()
	}
	quarter.Wait()
	var drained atomic.Value
	shutdownDone := make(chan struct{})
	go func() {
		defer close(shutdownDone)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		drained.Store(fmt.Sprint(old.srv.Shutdown(ctx)))
	}()
	wg.Wait()
	<-shutdownDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := drained.Load(); got != "<nil>" {
		t.Errorf("old server's Shutdown: %v", got)
	}
	next.stop(t)

	st1, st2 := old.srv.Stats(), next.srv.Stats()
	var replies, sent, retries, dialErrs int
	for _, e := range echoers {
		replies += e.replies
		sent += e.sent
		retries += e.retries
		dialErrs += e.dialErrs
		if len(e.locals) < 2 {
			t.Errorf("%s never moved to the new server (connections %v)", e.name, e.locals)
		}
	}
	t.Logf("old server: %d sessions, %d packages in, %d out; new server: %d sessions, %d packages; %d requests resent, %d dials refused",
		st1.SessionsTotal, st1.PackagesIn, st1.PackagesOut, st2.SessionsTotal, st2.PackagesOut, retries, dialErrs)
	if replies != sent || sent < clients*requests {
		t.Errorf("%d replies for %d requests (at least %d)", replies, sent, clients*requests)
	}
	if dialErrs != 0 {
		t.Errorf("%d dials were refused during the handover", dialErrs)
	}
	if st1.PackagesIn != st1.PackagesOut {
		t.Errorf("the drained server took in %d packages and answered %d", st1.PackagesIn, st1.PackagesOut)
	}
	if int(st1.PackagesOut+st2.PackagesOut) != replies {
		t.Errorf("servers sent %d+%d echoes, clients got %d", st1.PackagesOut, st2.PackagesOut, replies)
	}
	if st1.Closed.Shutdown != clients || st2.SessionsTotal < clients {
		t.Errorf("old server closed %+v; new server opened %d sessions", st1.Closed, st2.SessionsTotal)
	}
}

// TestReusePortSpreadsConnections checks that two servers sharing a port
// both get connections.
func TestReusePortSpreadsConnections(t *testing.T) {
	t.Parallel()
	cfg := &tcp.Config{ReusePort: true}
	l1, err := tcp.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := tcp.Listen(l1.Addr().String(), cfg)
	if err != nil {
		l1.Close()
		t.Fatal(err)
	}
	a, b := serveLines(t, l1, nil), serveLines(t, l2, nil)
	const conns = 64 // all on one server: probability 2^-63 with the kernel's hash
	for i := range conns {
		c := dial(t, l1.Addr().String())
		echoLine(t, c, bufio.NewReader(c), fmt.Sprint(i))
	}
	na, nb := a.srv.Stats().SessionsTotal, b.srv.Stats().SessionsTotal
	if na+nb != conns || na == 0 || nb == 0 {
		t.Errorf("sessions: %d and %d", na, nb)
	}
}
