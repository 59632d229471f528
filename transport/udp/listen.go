package udp

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/gettynet/getty"
)

// Listener hands a getty.Server its one unconnected UDP socket. A UDP server
// is a single session that receives from every client (the sender of each
// package comes with it, to PacketHandler.OnPacket) and answers each with
// Session.WriteTo.
//
// Its methods are safe for concurrent use.
type Listener struct {
	c *Conn

	mu       sync.Mutex // guards accepted
	accepted bool
	done     chan struct{} // closed by Close
	once     sync.Once
}

// Listen opens an unconnected UDP socket on addr ("host:port"; port 0 picks
// a free one). An IPv4 host gives an IPv4 socket, an IPv6 host an IPv6-only
// one, an empty host a dual-stack one where the system has it. A nil cfg
// means defaults.
func Listen(addr string, cfg *Config) (*Listener, error) {
	network, err := listenNetwork(addr)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	uc := pc.(*net.UDPConn)
	c, err := newConn(uc, cfg, network == "udp6")
	if err != nil {
		uc.Close() //nolint:errcheck // the configuration error is what matters
		return nil, err
	}
	return &Listener{c: c, done: make(chan struct{})}, nil
}

// listenNetwork picks udp4, udp6 or udp (dual-stack) from the host of addr.
func listenNetwork(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("udp: listen address %q: %w", addr, err)
	}
	if host == "" {
		return "udp", nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "udp", nil // a name: the resolver decides
	}
	if ip.To4() != nil {
		return "udp4", nil
	}
	return "udp6", nil
}

// Accept returns the socket the first time; later calls block until the
// listener is closed, then fail with an error wrapping net.ErrClosed.
func (l *Listener) Accept() (getty.Conn, error) {
	l.mu.Lock()
	first := !l.accepted
	l.accepted = true
	l.mu.Unlock()
	if first {
		return l.c, nil
	}
	<-l.done
	return nil, &net.OpError{Op: "accept", Net: "udp", Addr: l.c.LocalAddr(), Err: net.ErrClosed}
}

// Close wakes a blocked Accept. The socket is closed too if Accept never
// handed it out; otherwise it belongs to its session, which closes it.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	l.mu.Lock()
	owned := !l.accepted
	l.accepted = true
	l.mu.Unlock()
	if owned {
		return l.c.Close()
	}
	return nil
}

// Addr is the socket's local address.
func (l *Listener) Addr() net.Addr { return l.c.LocalAddr() }

// Conn returns the socket (for Stats and Connect), whether or not Accept
// handed it out yet.
func (l *Listener) Conn() *Conn { return l.c }
