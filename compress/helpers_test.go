package compress_test

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/compress"
	"github.com/gettynet/getty/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// maxPkg lets a 4 MiB payload plus its 4-byte length prefix through.
const maxPkg = 4<<20 + 64

// network is one stream transport the tests run over: a row of the
// engine's transport matrix (testutil.Streams: tcp, tcp6, tls, and on
// Linux tcp/eventloop, tcp6/eventloop, unix/eventloop) or a Unix stream
// socket at a path. A network named ".../eventloop" runs the servers and
// clients of serve and dial on getty.EngineEventLoop.
type network string

const (
	netTCP  network = "tcp"
	netTLS  network = "tls"
	netUnix network = "unix"
)

const onLoop = "/eventloop"

// engine is the engine the servers and clients on n run on.
func (n network) engine() getty.Engine {
	if strings.HasSuffix(string(n), onLoop) {
		return getty.EngineEventLoop
	}
	return getty.EngineGoroutine
}

// engines returns n on each engine that can drive it: n itself, and on
// Linux (but for TLS) n on the event loop.
func engines(n network) []network {
	if runtime.GOOS != "linux" || n == netTLS {
		return []network{n}
	}
	return []network{n, n + onLoop}
}

// forEngines runs test as one subtest per engine ("goroutine",
// "eventloop") over n.
func forEngines(t *testing.T, n network, test func(t *testing.T, n network)) {
	for _, en := range engines(n) {
		t.Run(en.engine().String(), func(t *testing.T) { test(t, en) })
	}
}

// engineDialer is the dialer serve returns: dial gives its clients the
// engine of the server's network.
type engineDialer struct {
	getty.Dialer
	engine getty.Engine
}

// listen opens a loopback listener of kind n and returns it with a dialer
// that reaches it.
func listen(t *testing.T, n network) (getty.Listener, getty.Dialer) {
	t.Helper()
	if n == netUnix {
		path := filepath.Join(t.TempDir(), "s")
		nl, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		return getty.NetListener(nl), getty.DialerFunc(func(ctx context.Context) (getty.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		})
	}
	for _, tr := range testutil.Streams() {
		if tr.Name == string(n) {
			env := tr.Setup(t)
			l := env.MustListen(t)
			return l, env.Dialer(l.Addr().String())
		}
	}
	t.Fatalf("unknown network %q", n)
	return nil, nil
}

// serve runs a getty server on a compressed listener of kind n and returns
// the dialer for it (compressed with the same cfg unless told otherwise).
// The server stops at the end of the test.
func serve(t *testing.T, n network, cfg *compress.Config, opts *getty.ServerOptions, h getty.Handler[[]byte]) (raw getty.Dialer) {
	t.Helper()
	l, d := listen(t, n)
	cl, err := compress.NewListener(l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var o getty.ServerOptions
	if opts != nil {
		o = *opts
	}
	o.Engine = n.engine()
	srv, err := getty.NewServer[[]byte](lengthfield.Codec{}, h, &o)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(cl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, getty.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return engineDialer{d, o.Engine}
}

// dial connects a getty client through d compressed with cfg, on the
// engine of the server that gave d.
func dial(t *testing.T, d getty.Dialer, cfg *compress.Config, opts *getty.ClientOptions, h getty.Handler[[]byte]) *getty.Client[[]byte] {
	t.Helper()
	cd, err := compress.NewDialer(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts == nil {
		opts = &getty.ClientOptions{}
	}
	opts.NoReconnect = true
	if ed, ok := d.(engineDialer); ok {
		opts.Engine = ed.engine
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := getty.Dial[[]byte](ctx, cd, lengthfield.Codec{}, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() }) //nolint:errcheck // a second Close is fine
	return c
}

// echo writes every package back.
func echo() getty.Handler[[]byte] {
	return getty.HandlerFuncs[[]byte]{
		Message: func(s *getty.Session[[]byte], p []byte) {
			s.Write(p) //nolint:errcheck // a failed echo ends the session; the test sees it
		},
	}
}

// collector hands every package (copied) and the session end to channels.
type collector struct {
	pkgs   chan []byte
	closed chan error
}

func newCollector(n int) *collector {
	return &collector{pkgs: make(chan []byte, n), closed: make(chan error, 1)}
}

func (c *collector) handler() getty.Handler[[]byte] {
	return getty.HandlerFuncs[[]byte]{
		Message: func(_ *getty.Session[[]byte], p []byte) { c.pkgs <- append([]byte(nil), p...) },
		Close:   func(s *getty.Session[[]byte]) { c.closed <- s.Err() },
	}
}

func (c *collector) next(t *testing.T) []byte {
	t.Helper()
	select {
	case p := <-c.pkgs:
		return p
	case err := <-c.closed:
		t.Fatalf("session closed while waiting for a package: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no package within 30 s")
	}
	return nil
}

// payload returns n bytes: random, or JSON-like text that compresses.
func payload(n int, compressible bool, seed uint64) []byte {
	r := mrand.New(mrand.NewPCG(seed, 7))
	b := make([]byte, 0, n+256)
	if !compressible {
		b = b[:n]
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, `{"id":%d,"user":"%s","score":%d,"tags":["%s","x%d"],"ok":%t},`,
			i, names[r.IntN(len(names))], r.IntN(100000), strings.Repeat("ab", r.IntN(4)), r.IntN(50), r.IntN(2) == 0)
	}
	return b[:n]
}

func pkgFrame(p []byte) []byte {
	b, err := lengthfield.Codec{}.Encode(nil, p)
	if err != nil {
		panic(err)
	}
	return b
}
