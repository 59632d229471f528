package ws_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/ws"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// requirePeer skips (or, with GETTY_REQUIRE_PEERS=1, fails) when a
// third-party program is missing.
func requirePeer(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missingPeer(t, name+" not installed")
	}
	return p
}

func missingPeer(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("GETTY_REQUIRE_PEERS") == "1" {
		t.Fatalf("peer missing: %s", why)
	}
	t.Skipf("peer missing: %s", why)
}

// echoServer runs a getty server that echoes every message with its kind.
type echoServer struct {
	srv    *getty.Server[ws.Message]
	l      *ws.Listener
	url    string
	served chan error
	closed chan error // cause of each closed session
}

func startEcho(t *testing.T, cfg *ws.Config, opts *getty.ServerOptions) *echoServer {
	t.Helper()
	es := &echoServer{served: make(chan error, 1), closed: make(chan error, 4096)}
	h := getty.HandlerFuncs[ws.Message]{
		Message: func(s *getty.Session[ws.Message], m ws.Message) {
			s.Write(m) //nolint:errcheck // a failed echo ends the session, which the test sees
		},
		Close: func(s *getty.Session[ws.Message]) { es.closed <- s.Err() },
	}
	srv, err := getty.NewServer[ws.Message](ws.Codec{}, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ws.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	es.srv, es.l, es.url = srv, l, l.URL()
	go func() { es.served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-es.served; !errors.Is(err, getty.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return es
}

// waitClosed returns the cause of the next session that closes.
func (es *echoServer) waitClosed(t *testing.T) error {
	t.Helper()
	select {
	case err := <-es.closed:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no session closed within 10 s")
		return nil
	}
}
