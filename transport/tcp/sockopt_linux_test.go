package tcp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/transport/tcp"
	"golang.org/x/sys/unix"
)

// TestAcceptedSocketOptions checks that the server side of a connection
// gets the Config's socket options on both engines: the goroutine
// engine's Accept sets them on a *net.TCPConn, the event-loop engine's own
// accept4 through SetupAccepted.
func TestAcceptedSocketOptions(t *testing.T) {
	type want struct{ nodelay, keepalive, idle, rcvbuf int }
	cases := []struct {
		name string
		cfg  tcp.Config
		want want
	}{
		{"defaults", tcp.Config{}, want{nodelay: 1, keepalive: 1, idle: 15}},
		{"tuned", tcp.Config{Delay: true, KeepAlive: 7 * time.Second, ReadBuffer: 64 << 10}, want{nodelay: 0, keepalive: 1, idle: 7, rcvbuf: 64 << 10}},
		{"no keepalive", tcp.Config{KeepAlive: -1}, want{nodelay: 1, keepalive: 0}},
	}
	for _, eng := range []getty.Engine{getty.EngineGoroutine, getty.EngineEventLoop} {
		for _, c := range cases {
			t.Run(eng.String()+"/"+c.name, func(t *testing.T) {
				got := make(chan want, 1)
				errc := make(chan error, 1)
				h := getty.HandlerFuncs[[]byte]{Open: func(s *getty.Session[[]byte]) error {
					sc, ok := s.Conn().(syscall.Conn)
					if !ok {
						errc <- fmt.Errorf("%T has no descriptor", s.Conn())
						return nil
					}
					rc, err := sc.SyscallConn()
					if err != nil {
						errc <- err
						return err
					}
					var w want
					var gerr error
					rc.Control(func(fd uintptr) { //nolint:errcheck // gerr carries the failure
						get := func(level, opt int) int {
							v, err := unix.GetsockoptInt(int(fd), level, opt)
							gerr = errors.Join(gerr, err)
							return v
						}
						w.nodelay = get(unix.IPPROTO_TCP, unix.TCP_NODELAY)
						w.keepalive = get(unix.SOL_SOCKET, unix.SO_KEEPALIVE)
						if w.keepalive != 0 {
							w.idle = get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
						}
						w.rcvbuf = get(unix.SOL_SOCKET, unix.SO_RCVBUF)
					})
					if gerr != nil {
						errc <- gerr
						return gerr
					}
					got <- w
					return nil
				}}
				srv, err := getty.NewServer(delim.Lines(), h, &getty.ServerOptions{Options: getty.Options{Engine: eng}})
				if err != nil {
					t.Fatal(err)
				}
				cfg := c.cfg
				l, err := tcp.Listen("127.0.0.1:0", &cfg)
				if err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- srv.Serve(l) }()
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := srv.Shutdown(ctx); err != nil {
						t.Error(err)
					}
					if err := <-done; !errors.Is(err, getty.ErrServerClosed) {
						t.Errorf("Serve = %v", err)
					}
				}()
				nc, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				select {
				case w := <-got:
					// The kernel doubles SO_RCVBUF; the default is whatever
					// it is.
					if c.want.rcvbuf == 0 {
						w.rcvbuf = 0
					} else if w.rcvbuf >= c.want.rcvbuf {
						w.rcvbuf = c.want.rcvbuf
					}
					if w != c.want {
						t.Fatalf("server socket options %+v, want %+v", w, c.want)
					}
				case err := <-errc:
					t.Fatal(err)
				case <-time.After(10 * time.Second):
					t.Fatal("no session opened")
				}
			})
		}
	}
}
