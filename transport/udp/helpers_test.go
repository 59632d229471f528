package udp_test

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/transport/udp"
)

// listen opens a udp.Listener that is closed when the test ends, and
// returns it with its socket.
func listen(t *testing.T, addr string, cfg *udp.Config) (*udp.Listener, *udp.Conn) {
	t.Helper()
	l, err := udp.Listen(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		c.Close()
	})
	return l, c.(*udp.Conn)
}

// rawSocket is a plain net.UDPConn: the peer nobody in getty wrote.
func rawSocket(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	la, err := net.ResolveUDPAddr(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP(network, la)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func udpAddr(a net.Addr) *net.UDPAddr { return a.(*net.UDPAddr) }

// send writes one datagram from raw to a.
func send(t *testing.T, raw *net.UDPConn, a net.Addr, data string) {
	t.Helper()
	if _, err := raw.WriteToUDP([]byte(data), udpAddr(a)); err != nil {
		t.Fatal(err)
	}
}

// recv reads one datagram on raw.
func recv(t *testing.T, raw *net.UDPConn) (string, *net.UDPAddr) {
	t.Helper()
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 70000)
	n, from, err := raw.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), from
}

// read reads one message from c with a bounded wait.
func read(t *testing.T, c *udp.Conn, max int) (getty.Message, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	m, err := c.ReadMessage(max)
	if err == nil {
		m.Data = bytes.Clone(m.Data)
	}
	return m, err
}

func mustRead(t *testing.T, c *udp.Conn) getty.Message {
	t.Helper()
	m, err := read(t, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// packetErr reads from c and expects a *getty.PacketError matching target.
func packetErr(t *testing.T, c *udp.Conn, target error) *getty.PacketError {
	t.Helper()
	m, err := read(t, c, 0)
	var pe *getty.PacketError
	if !errors.As(err, &pe) {
		t.Fatalf("read = %q, %v; want a *getty.PacketError", m.Data, err)
	}
	if !errors.Is(err, target) {
		t.Fatalf("read error %v does not wrap %v", err, target)
	}
	return pe
}

// expectTimeout checks that nothing arrives on c for a short while (the
// read blocks instead of spinning on an error).
func expectTimeout(t *testing.T, c *udp.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	m, err := c.ReadMessage(0)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read = %q, %v; want a timeout", m.Data, err)
	}
}

func sameUDPAddr(a, b net.Addr) bool {
	x, ok1 := a.(*net.UDPAddr)
	y, ok2 := b.(*net.UDPAddr)
	return ok1 && ok2 && x.Port == y.Port && x.IP.Equal(y.IP)
}

func hasIPv6Loopback(t *testing.T) {
	t.Helper()
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	c.Close()
}
