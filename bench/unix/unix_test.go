//go:build linux

package unix

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/lengthfield"
	"github.com/gettynet/getty/transport/tcp"
	"github.com/gettynet/getty/transport/unix"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// endpoint is one transport under test: a listener and a dialer for it.
type endpoint struct {
	name   string
	listen func(b *testing.B) (getty.Listener, getty.Dialer)
}

func sockPath(b *testing.B) string {
	dir, err := os.MkdirTemp("", "gb")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

func unixEndpoint(network unix.Network, name string, cfg unix.Config) endpoint {
	return endpoint{name: name, listen: func(b *testing.B) (getty.Listener, getty.Dialer) {
		path := sockPath(b)
		l, err := unix.Listen(network, path, &cfg)
		if err != nil {
			b.Fatal(err)
		}
		return l, unix.Dialer{Network: network, Addr: path, Config: cfg}
	}}
}

var tcpEndpoint = endpoint{name: "tcp", listen: func(b *testing.B) (getty.Listener, getty.Dialer) {
	l, err := tcp.Listen("127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	return l, tcp.Dialer{Addr: l.Addr().String()}
}}

// echo writes every package back: to its sender on packet sessions.
type echo struct{ getty.NopHandler[[]byte] }

func (echo) OnMessage(s *getty.Session[[]byte], p []byte) { s.Write(p) }

func (echo) OnPacket(s *getty.Session[[]byte], p []byte, from net.Addr) { s.WriteTo(p, from) }

// credits is a client handler that returns one credit per reply.
type credits chan struct{}

func (credits) OnOpen(*getty.Session[[]byte]) error        { return nil }
func (c credits) OnMessage(*getty.Session[[]byte], []byte) { <-c }
func (credits) OnCron(*getty.Session[[]byte])              {}
func (credits) OnError(*getty.Session[[]byte], error)      {}
func (credits) OnClose(*getty.Session[[]byte])             {}

// serve starts an echo server on ep and returns a client session.
func serve(b *testing.B, ep endpoint, h getty.Handler[[]byte], opts getty.Options) *getty.Session[[]byte] {
	l, d := ep.listen(b)
	srv, err := getty.NewServer(lengthfield.Codec{}, echo{}, &getty.ServerOptions{Options: opts})
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial(ctx, d, lengthfield.Codec{}, h, &getty.ClientOptions{Options: opts, NoReconnect: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		client.Close()
		srv.Shutdown(context.Background())
		<-served
	})
	s, err := client.Session()
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkEcho sends b.N packages through an echo server with up to
// window packages in flight, over Unix stream, TCP loopback and Unix
// seqpacket. "unix-sndbuf1m" asks for 1 MiB send buffers (the kernel
// doubles it): a Unix stream queues in-flight data against the sender's
// SO_SNDBUF (212,992 bytes by default) while TCP loopback autotunes its
// buffers. Bytes/s counts one direction.
func BenchmarkEcho(b *testing.B) {
	for _, window := range []int{1, 64} {
		for _, size := range []int{64, 4096} {
			for _, ep := range []endpoint{
				unixEndpoint(unix.Stream, "unix", unix.Config{}),
				unixEndpoint(unix.Stream, "unix-sndbuf1m", unix.Config{WriteBuffer: 1 << 20}),
				tcpEndpoint,
				unixEndpoint(unix.Seqpacket, "unixpacket", unix.Config{}),
			} {
				b.Run(fmt.Sprintf("window=%d/size=%d/%s", window, size, ep.name), func(b *testing.B) {
					runEcho(b, ep, size, window)
				})
			}
		}
	}
}

func runEcho(b *testing.B, ep endpoint, size, window int) {
	c := make(credits, window)
	s := serve(b, ep, c, getty.Options{})
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c <- struct{}{}
		if err := s.Write(payload); err != nil {
			b.Fatal(err)
		}
	}
	for range window {
		c <- struct{}{} // every reply is in
	}
	b.StopTimer()
}

// counter counts the packages a server receives.
type counter struct {
	getty.NopHandler[[]byte]
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *counter) OnPacket(*getty.Session[[]byte], []byte, net.Addr) {
	if c.n.Add(1) == c.want {
		close(c.done)
	}
}

// BenchmarkDatagram sends b.N datagrams one way from a connected unixgram
// client to a server session, which counts them; nothing is lost, so the
// run ends when the server has them all. "peek" runs with the default
// MaxPackageSize (4 MiB, above the receive buffer: each datagram's size is
// peeked first); "onecall" with MaxPackageSize 64 KiB (one recvmsg per
// datagram).
func BenchmarkDatagram(b *testing.B) {
	for _, size := range []int{64, 1024, 16384} {
		for _, mode := range []struct {
			name string
			max  int
		}{{"onecall", 64 << 10}, {"peek", 0}} {
			b.Run(fmt.Sprintf("size=%d/%s", size, mode.name), func(b *testing.B) {
				runDatagram(b, size, mode.max)
			})
		}
	}
}

func runDatagram(b *testing.B, size, maxPackage int) {
	path := sockPath(b)
	l, err := unix.Listen(unix.Datagram, path, nil)
	if err != nil {
		b.Fatal(err)
	}
	opts := getty.Options{MaxPackageSize: maxPackage}
	h := &counter{want: int64(b.N), done: make(chan struct{})}
	srv, err := getty.NewServer(lengthfield.Codec{}, h, &getty.ServerOptions{Options: opts})
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := getty.Dial(ctx, unix.Dialer{Network: unix.Datagram, Addr: path}, lengthfield.Codec{}, getty.NopHandler[[]byte]{},
		&getty.ClientOptions{Options: getty.Options{MaxPackageSize: maxPackage, BlockOnBacklog: true}, NoReconnect: true})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		client.Close()
		srv.Shutdown(context.Background())
		<-served
	}()
	s, err := client.Session()
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.Write(payload); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-h.done:
	case <-time.After(time.Minute):
		b.Fatalf("server got %d of %d datagrams", h.n.Load(), b.N)
	}
	b.StopTimer()
}

// BenchmarkRawPingPong is the baseline without getty: one goroutine writes
// size bytes and reads them back from an io.Copy echo, over plain net
// connections.
func BenchmarkRawPingPong(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, network := range []string{"unix", "tcp"} {
			b.Run(fmt.Sprintf("size=%d/%s", size, network), func(b *testing.B) {
				c := rawPair(b, network)
				buf := make([]byte, size)
				b.SetBytes(int64(size))
				b.ResetTimer()
				for range b.N {
					if _, err := c.Write(buf); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// rawPair returns a client connection to an io.Copy echo server.
func rawPair(b *testing.B, network string) net.Conn {
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = sockPath(b)
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	c, err := net.Dial(network, l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Close()
		l.Close()
		<-done
	})
	return c
}
