package udp_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/transport/udp"
)

// recorder collects what a handler saw, for assertions.
type recorder struct {
	mu     sync.Mutex
	pkgs   []string
	froms  []net.Addr
	errs   []error
	events chan struct{} // poked on every callback
}

func newRecorder() *recorder { return &recorder{events: make(chan struct{}, 1)} }

func (r *recorder) poke() {
	select {
	case r.events <- struct{}{}:
	default:
	}
}

func (r *recorder) addPkg(p []byte, from net.Addr) {
	r.mu.Lock()
	r.pkgs = append(r.pkgs, string(p))
	r.froms = append(r.froms, from)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) addErr(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	r.poke()
}

// wait waits until cond holds (checked under the lock after every event).
func (r *recorder) wait(t *testing.T, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.events:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s; packages %q, errors %v", what, r.pkgs, r.errs)
		}
	}
}

func (r *recorder) snapshot() ([]string, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.pkgs...), append([]error(nil), r.errs...)
}

// echoServer runs a getty server on a udp.Listener that sends every package
// back to its sender, and records what it saw.
type echoServer struct {
	srv  *getty.Server[[]byte]
	l    *udp.Listener
	rec  *recorder
	addr string
}

func startEchoServer(t *testing.T, addr string, cfg *udp.Config, opts *getty.ServerOptions, codec getty.Codec[[]byte]) *echoServer {
	t.Helper()
	if codec == nil {
		codec = delim.Lines()
	}
	rec := newRecorder()
	h := getty.HandlerFuncs[[]byte]{
		Packet: func(s *getty.Session[[]byte], p []byte, from net.Addr) {
			rec.addPkg(p, from)
			if err := s.WriteTo(p, from); err != nil {
				rec.addErr(err)
			}
		},
		Error: func(_ *getty.Session[[]byte], err error) { rec.addErr(err) },
	}
	srv, err := getty.NewServer[[]byte](codec, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := udp.Listen(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	})
	return &echoServer{srv: srv, l: l, rec: rec, addr: l.Addr().String()}
}

// stop shuts the server down and waits for its goroutines.
func (e *echoServer) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// dialClient connects a getty client to addr and records what it receives.
func dialClient(t *testing.T, d udp.Dialer, opts *getty.ClientOptions, codec getty.Codec[[]byte], h *getty.HandlerFuncs[[]byte]) (*getty.Client[[]byte], *getty.Session[[]byte], *recorder) {
	t.Helper()
	if codec == nil {
		codec = delim.Lines()
	}
	rec := newRecorder()
	var hf getty.HandlerFuncs[[]byte]
	if h != nil {
		hf = *h
	}
	if hf.Message == nil {
		hf.Message = func(_ *getty.Session[[]byte], p []byte) { rec.addPkg(p, nil) }
	}
	if hf.Error == nil {
		hf.Error = func(_ *getty.Session[[]byte], err error) { rec.addErr(err) }
	}
	if opts == nil {
		opts = &getty.ClientOptions{NoReconnect: true}
	}
	c, err := getty.Dial(testContext(t), d, codec, hf, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.Session()
	if err != nil {
		t.Fatal(err)
	}
	return c, s, rec
}

// serverConn returns the server's one UDP socket.
func (e *echoServer) conn() *udp.Conn { return e.l.Conn() }
