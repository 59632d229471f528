package proxyproto_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gettynet/getty/transport/proxyproto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns the two ends of a loopback TCP connection: the client's and
// the server's.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

func header(t *testing.T, version int) []byte {
	t.Helper()
	h := proxyproto.Header{Version: version, Command: proxyproto.Proxy,
		Source: tcpAddr("203.0.113.7:40000"), Destination: tcpAddr("198.51.100.1:443")}
	b, err := h.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConnHeaderThenData sends a header and data one byte per write; the
// server sees the header's addresses and exactly the data.
func TestConnHeaderThenData(t *testing.T) {
	t.Parallel()
	for _, version := range []int{1, 2} {
		for _, handshake := range []bool{true, false} {
			client, server := pair(t)
			data := []byte("hello, proxied world")
			go func() {
				for _, b := range append(header(t, version), data...) {
					client.Write([]byte{b})
				}
			}()
			c := proxyproto.Server(server, nil)
			if handshake {
				if err := c.HandshakeContext(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			got := make([]byte, len(data))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if string(got) != string(data) {
				t.Errorf("v%d: read %q", version, got)
			}
			if c.RemoteAddr().String() != "203.0.113.7:40000" || c.LocalAddr().String() != "198.51.100.1:443" {
				t.Errorf("v%d: addresses %v -> %v", version, c.RemoteAddr(), c.LocalAddr())
			}
			if h := c.Header(); h == nil || h.Version != version {
				t.Errorf("Header() = %+v", h)
			}
			if c.NetConn() != server {
				t.Error("NetConn is not the proxy's connection")
			}
		}
	}
}

// TestConnHeaderAndDataInOneSegment checks the bytes read past the header
// are returned first.
func TestConnHeaderAndDataInOneSegment(t *testing.T) {
	t.Parallel()
	client, server := pair(t)
	client.Write(append(header(t, 2), "abc"...))
	client.Write([]byte("def"))
	c := proxyproto.Server(server, nil)
	got := make([]byte, 6)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "abcdef" {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestConnLocalKeepsAddresses(t *testing.T) {
	t.Parallel()
	client, server := pair(t)
	b, _ := (&proxyproto.Header{Version: 2, Command: proxyproto.Local}).Append(nil)
	client.Write(b)
	c := proxyproto.Server(server, nil)
	if err := c.HandshakeContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != client.LocalAddr().String() || c.LocalAddr().String() != server.LocalAddr().String() {
		t.Errorf("LOCAL header changed the addresses: %v %v", c.RemoteAddr(), c.LocalAddr())
	}
}

func TestConnRefusesBadHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		send []byte
		want error
	}{
		{name: "no header", send: []byte("\x00\x00\x00\x05hello"), want: proxyproto.ErrNoHeader},
		{name: "malformed v1", send: []byte("PROXY TCP4 1.2.3.4 nope 1 2\r\n"), want: proxyproto.ErrMalformed},
		{name: "malformed v2", send: mustHex(v2Sig + "31 11 000c 7f000001 7f000002 3039 0050"), want: proxyproto.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := pair(t)
			client.Write(tt.send)
			c := proxyproto.Server(server, nil)
			err := c.HandshakeContext(context.Background())
			if !errors.Is(err, tt.want) {
				t.Fatalf("HandshakeContext = %v, want %v", err, tt.want)
			}
			if _, rerr := c.Read(make([]byte, 10)); !errors.Is(rerr, tt.want) {
				t.Errorf("Read after a bad header = %v", rerr)
			}
			if c.RemoteAddr().String() != client.LocalAddr().String() {
				t.Errorf("RemoteAddr = %v", c.RemoteAddr())
			}
		})
	}
}

func TestConnHeaderTimeout(t *testing.T) {
	t.Parallel()
	client, server := pair(t)
	client.Write([]byte("PROXY TCP4 ")) // and then nothing
	c := proxyproto.Server(server, &proxyproto.Config{HeaderTimeout: 50 * time.Millisecond})
	err := c.HandshakeContext(context.Background())
	if !errors.Is(err, proxyproto.ErrHeaderTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("HandshakeContext = %v", err)
	}
	t.Log(err)
}

// TestConnHandshakeContext checks that the context's deadline and
// cancellation bound the header read.
func TestConnHandshakeContext(t *testing.T) {
	t.Parallel()
	_, server := pair(t)
	c := proxyproto.Server(server, &proxyproto.Config{HeaderTimeout: -1})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond) // let the read block first; the result is the same either way
		cancel()
	}()
	if err := c.HandshakeContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled HandshakeContext = %v", err)
	}

	_, server2 := pair(t)
	c2 := proxyproto.Server(server2, nil)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	if err := c2.HandshakeContext(ctx2); !errors.Is(err, proxyproto.ErrHeaderTimeout) {
		t.Fatalf("HandshakeContext past the context's deadline = %v", err)
	}
}

// TestConnDeadlines checks that a past read deadline set during the header
// read (a getty session closing) wakes it, and that the user's deadline is
// back in force once the header is in.
func TestConnDeadlines(t *testing.T) {
	t.Parallel()
	_, server := pair(t)
	c := proxyproto.Server(server, nil)
	done := make(chan error, 1)
	go func() { done <- c.HandshakeContext(context.Background()) }()
	for range 100 {
		_ = c.RemoteAddr() // concurrent with the header read (race detector)
	}
	time.Sleep(10 * time.Millisecond) // let the read block; a deadline set before it works too
	c.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("woken header read = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a past deadline did not wake the header read")
	}

	client2, server2 := pair(t)
	c2 := proxyproto.Server(server2, nil)
	c2.SetReadDeadline(time.Now().Add(time.Hour)) // later than the header's: deferred
	client2.Write(header(t, 1))
	if err := c2.HandshakeContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2.SetDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the user's deadline = %v", err)
	}
}

func TestConnTrusted(t *testing.T) {
	t.Parallel()
	client, server := pair(t)
	client.Write(header(t, 2))
	c := proxyproto.Server(server, &proxyproto.Config{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err := c.HandshakeContext(context.Background()); !errors.Is(err, proxyproto.ErrUntrusted) {
		t.Errorf("untrusted proxy: %v", err)
	}
	client2, server2 := pair(t)
	client2.Write(header(t, 2))
	c2 := proxyproto.Server(server2, &proxyproto.Config{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}})
	if err := c2.HandshakeContext(context.Background()); err != nil {
		t.Errorf("trusted proxy: %v", err)
	}
}

func TestConnSyscallConn(t *testing.T) {
	t.Parallel()
	_, server := pair(t)
	c := proxyproto.Server(server, nil)
	if _, err := c.SyscallConn(); err != nil {
		t.Error(err)
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if _, err := proxyproto.Server(p1, nil).SyscallConn(); err == nil {
		t.Error("a pipe has a descriptor")
	}
}
