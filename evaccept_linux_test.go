package getty_test

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/tcp"
)

// gatedListener is a TCP listener whose SyscallConn (which the event-loop
// engine asks for as Serve starts) waits for the test: Serve is then held
// between taking the listener and accepting from it.
type gatedListener struct {
	*tcp.Listener
	asked  chan struct{} // closed when Serve asks for the socket
	gate   chan struct{} // closed by the test to answer
	closed chan struct{} // closed once the listener is closed
}

func (g *gatedListener) SyscallConn() (syscall.RawConn, error) {
	close(g.asked)
	<-g.gate
	return g.Listener.SyscallConn()
}

func (g *gatedListener) Close() error {
	err := g.Listener.Close()
	close(g.closed)
	return err
}

// TestServeReturnsErrServerClosedWhenShutdownWinsTheStart checks that a
// Shutdown that closes the listener just as Serve starts (before the
// event-loop engine has taken the listener's socket) makes Serve return
// ErrServerClosed, as it does once accepting.
func TestServeReturnsErrServerClosedWhenShutdownWinsTheStart(t *testing.T) {
	env := tcpEnv(t)
	env.Engine = getty.EngineEventLoop
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, echoHandler{}, env.ServerOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedListener{Listener: l, asked: make(chan struct{}), gate: make(chan struct{}), closed: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(g) }()
	select {
	case <-g.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not ask for the listener's socket")
	}
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	<-g.closed // Shutdown closed the listener; Serve has yet to take its socket
	close(g.gate)
	select {
	case err := <-served:
		if !errors.Is(err, getty.ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
}
