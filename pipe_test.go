package getty_test

import (
	"net"
	"sync"
	"testing"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
)

// pipeListener yields server ends of net.Pipe pairs: an in-memory stream
// whose reads return exactly what each write sent, for tests that need
// precise control over how bytes arrive.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (p *pipeListener) Accept() (getty.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.done:
		return nil, net.ErrClosed
	}
}

func (p *pipeListener) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// pipeServer starts a server on a pipeListener and returns a channel that
// yields the client end of each new connection (unbounded supply).
func pipeServer(t testing.TB, h getty.Handler[[]byte], opts *getty.ServerOptions) (*getty.Server[[]byte], <-chan net.Conn) {
	t.Helper()
	srv, err := getty.NewServer(lengthfield.Codec{}, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	clients := make(chan net.Conn)
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(l)
	}()
	go func() {
		for {
			a, b := net.Pipe()
			select {
			case l.conns <- a:
			case <-l.done:
				a.Close()
				b.Close()
				return
			}
			select {
			case clients <- b:
			case <-l.done:
				b.Close()
				return
			}
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return srv, clients
}
