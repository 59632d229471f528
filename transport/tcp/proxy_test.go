package tcp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/codec/delim"
	"github.com/gettynet/getty/internal/testutil"
	"github.com/gettynet/getty/transport/proxyproto"
	"github.com/gettynet/getty/transport/tcp"
)

// lineServer runs a getty line-echo server on l. Every opened session's
// remote address goes to opened; observed errors (handshake failures) go to
// errs.
type lineServer struct {
	srv     *getty.Server[[]byte]
	l       getty.Listener
	opened  chan net.Addr
	errs    chan error
	done    chan error
	checks  atomic.Int64  // sessions opened with a LOCAL header
	checked chan struct{} // signalled (without blocking) at each check
}

func startLineServer(t *testing.T, cfg *tcp.Config, opts *getty.ServerOptions) *lineServer {
	t.Helper()
	l, err := tcp.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveLines(t, l, opts)
}

func serveLines(t *testing.T, l getty.Listener, opts *getty.ServerOptions) *lineServer {
	t.Helper()
	ls := &lineServer{l: l, opened: make(chan net.Addr, 1024), errs: make(chan error, 1024), done: make(chan error, 1),
		checked: make(chan struct{}, 1)}
	h := getty.HandlerFuncs[[]byte]{
		Open: func(s *getty.Session[[]byte]) error {
			if pc, ok := s.Conn().(*proxyproto.Conn); ok && pc.Header().Command == proxyproto.Local {
				ls.checks.Add(1) // a load balancer's health check
				select {
				case ls.checked <- struct{}{}:
				default:
				}
				return nil
			}
			ls.opened <- s.RemoteAddr()
			return nil
		},
		Message: func(s *getty.Session[[]byte], p []byte) { s.Write(p) },
	}
	var o getty.ServerOptions
	if opts != nil {
		o = *opts
	}
	if o.Observer == nil {
		o.Observer = getty.ObserverFuncs{Error: func(_ getty.SessionInfo, err error) { ls.errs <- err }}
	}
	srv, err := getty.NewServer(delim.Lines(), h, &o)
	if err != nil {
		t.Fatal(err)
	}
	ls.srv = srv
	go func() { ls.done <- srv.Serve(l) }()
	t.Cleanup(func() { ls.stop(t) })
	return ls
}

func (ls *lineServer) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ls.srv.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	select {
	case err := <-ls.done:
		if !errors.Is(err, getty.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	default: // already collected
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func proxyHeader(t *testing.T, version int, src, dst string) []byte {
	t.Helper()
	s, _ := net.ResolveTCPAddr("tcp", src)
	d, _ := net.ResolveTCPAddr("tcp", dst)
	b, err := (&proxyproto.Header{Version: version, Command: proxyproto.Proxy, Source: s, Destination: d}).Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func echoLine(t *testing.T, c net.Conn, r *bufio.Reader, line string) {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo of %q: %q, %v", line, got, err)
	}
}

func waitOpened(t *testing.T, ls *lineServer) net.Addr {
	t.Helper()
	select {
	case a := <-ls.opened:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no session opened")
		return nil
	}
}

func waitErr(t *testing.T, ls *lineServer) error {
	t.Helper()
	select {
	case err := <-ls.errs:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no error observed")
		return nil
	}
}

// TestProxyProtocolSetsRemoteAddr sends v1 and v2 headers, with and
// without TLS after them: OnOpen already sees the client's address, and the
// bytes after the header are the session's data.
func TestProxyProtocolSetsRemoteAddr(t *testing.T) {
	t.Parallel()
	certs := testutil.NewCerts(t)
	for _, tc := range []struct {
		name    string
		version int
		tls     bool
		src     string
	}{
		{name: "v1", version: 1, src: "203.0.113.9:51000"},
		{name: "v2", version: 2, src: "203.0.113.10:52000"},
		{name: "v2 ipv6", version: 2, src: "[2001:db8::7]:53000"},
		{name: "v1 tls", version: 1, tls: true, src: "198.51.100.3:1234"},
		{name: "v2 tls", version: 2, tls: true, src: "198.51.100.4:4321"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := &tcp.Config{ProxyProtocol: &proxyproto.Config{}}
			if tc.tls {
				cfg.TLS = certs.Server
			}
			ls := startLineServer(t, cfg, nil)
			c := net.Conn(dial(t, ls.l.Addr().String()))
			if _, err := c.Write(proxyHeader(t, tc.version, tc.src, ls.l.Addr().String())); err != nil {
				t.Fatal(err)
			}
			if tc.tls {
				conf := certs.Client.Clone()
				conf.ServerName = "127.0.0.1"
				tc := tls.Client(c, conf)
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				c = tc
			}
			r := bufio.NewReader(c)
			echoLine(t, c, r, "PROXY TCP4 looks like a header but is data")
			echoLine(t, c, r, "hello")
			if got := waitOpened(t, ls); got.String() != tc.src {
				t.Errorf("session remote address %v, want %v", got, tc.src)
			}
			var seen string
			ls.srv.Range(func(s *getty.Session[[]byte]) bool {
				seen = s.RemoteAddr().String() + " " + s.LocalAddr().String()
				return false
			})
			if want := tc.src + " " + ls.l.Addr().String(); seen != want {
				t.Errorf("Range sees %q, want %q", seen, want)
			}
		})
	}
}

// TestProxyProtocolRefusesBadHeaders checks that a connection without a
// valid header is closed before OnOpen, with a clear error, and counted.
func TestProxyProtocolRefusesBadHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		send    string
		timeout time.Duration
		want    error
	}{
		{name: "no header", send: "hello\n", want: proxyproto.ErrNoHeader},
		{name: "malformed v1", send: "PROXY TCP4 10.0.0.1 10.0.0.2 99999 80\r\nhello\n", want: proxyproto.ErrMalformed},
		{name: "malformed v2", send: "\r\n\r\n\x00\r\nQUIT\n\x21\x51\x00\x00", want: proxyproto.ErrMalformed},
		{name: "silent", timeout: 50 * time.Millisecond, want: proxyproto.ErrHeaderTimeout},
		{name: "partial", send: "PROXY TCP4 10.0.0.1", timeout: 50 * time.Millisecond, want: proxyproto.ErrHeaderTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ls := startLineServer(t, &tcp.Config{ProxyProtocol: &proxyproto.Config{HeaderTimeout: tc.timeout}}, nil)
			c := dial(t, ls.l.Addr().String())
			io.WriteString(c, tc.send)
			err := waitErr(t, ls)
			var op *getty.OpError
			if !errors.Is(err, tc.want) || !errors.As(err, &op) || op.Op != "handshake" {
				t.Fatalf("observed %v, want a handshake error wrapping %v", err, tc.want)
			}
			t.Logf("error: %v", err)
			if _, rerr := c.Read(make([]byte, 64)); rerr == nil {
				t.Error("the server answered a connection without a valid header")
			}
			select {
			case a := <-ls.opened:
				t.Errorf("session from %v opened", a)
			default:
			}
			if st := ls.srv.Stats(); st.HandshakeFailed != 1 || st.SessionsTotal != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestNoProxyOptionTreatsHeaderAsData checks that a listener without the
// option passes a PROXY header through to the codec as ordinary bytes.
func TestNoProxyOptionTreatsHeaderAsData(t *testing.T) {
	t.Parallel()
	ls := startLineServer(t, nil, nil)
	c := dial(t, ls.l.Addr().String())
	r := bufio.NewReader(c)
	hdr := strings.TrimSuffix(string(proxyHeader(t, 1, "203.0.113.9:51000", "127.0.0.1:80")), "\r\n")
	echoLine(t, c, r, hdr) // the line codec strips the CR and the echo has none
	if got := waitOpened(t, ls); got.String() != c.LocalAddr().String() {
		t.Errorf("remote address %v, want the real peer %v", got, c.LocalAddr())
	}
}

// TestProxyProtocolLargeEcho checks the header's destination is the
// session's LocalAddr, and that the write path (non-blocking first writes
// through the descriptor) works behind the wrapper with large echoes.
func TestProxyProtocolLargeEcho(t *testing.T) {
	t.Parallel()
	ls := startLineServer(t, &tcp.Config{ProxyProtocol: &proxyproto.Config{}}, nil)
	c := dial(t, ls.l.Addr().String())
	c.Write(proxyHeader(t, 2, "192.0.2.1:1000", "192.0.2.2:2000"))
	line := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	go io.WriteString(c, line+"\n")
	got, err := bufio.NewReaderSize(c, 1<<16).ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo of 1 MiB: %d bytes, %v", len(got), err)
	}
	var local string
	ls.srv.Range(func(s *getty.Session[[]byte]) bool { local = s.LocalAddr().String(); return false })
	if local != "192.0.2.2:2000" {
		t.Errorf("LocalAddr %q", local)
	}
}

func TestReusePortRefusedWithoutOption(t *testing.T) {
	t.Parallel()
	l1, err := tcp.Listen("127.0.0.1:0", &tcp.Config{ReusePort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	if l2, err := tcp.Listen(l1.Addr().String(), nil); err == nil {
		l2.Close()
		t.Fatal("a second listener without ReusePort bound the port")
	}
	l3, err := tcp.Listen(l1.Addr().String(), &tcp.Config{ReusePort: true})
	if err != nil {
		t.Fatalf("second ReusePort listener: %v", err)
	}
	l3.Close()
}
