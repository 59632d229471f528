package unix

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/gettynet/getty"
)

// Network is the kind of Unix socket.
type Network string

// The three kinds of Unix socket, named as package net names them.
const (
	Stream    Network = "unix"       // SOCK_STREAM: bytes, framed by the codec
	Datagram  Network = "unixgram"   // SOCK_DGRAM: addressed datagrams
	Seqpacket Network = "unixpacket" // SOCK_SEQPACKET: a connection of messages
)

// Errors of this package. Match them with errors.Is.
var (
	// ErrAddrInUse means a live socket owns the path (or abstract name), or
	// the path is something other than a socket.
	ErrAddrInUse = errors.New("unix: address in use")
	// ErrDatagramTooLarge refuses a datagram or seqpacket message larger
	// than the socket can send (its SO_SNDBUF minus 32 bytes). Errors
	// wrapping it also wrap getty.ErrMessageTooLarge.
	ErrDatagramTooLarge = errors.New("unix: datagram larger than the socket can send")
	// ErrNoPeerCred is returned by PeerCred for a connection that is not a
	// connected Unix socket.
	ErrNoPeerCred = errors.New("unix: no peer credentials")
)

// Defaults of Config fields.
const (
	DefaultMode          os.FileMode = 0o600
	DefaultMessageBuffer             = 256 << 10
)

// Config holds the socket settings. The zero value is ready to use.
type Config struct {
	// Mode is the permission bits of a socket file this process creates
	// (a listener's path, or a datagram client's LocalAddr). They are set
	// before the socket accepts a connection. Default DefaultMode (0600:
	// the owner only); 0660 admits the file's group, 0666 everyone. Unused
	// for abstract names.
	Mode os.FileMode
	// ReadBuffer and WriteBuffer set SO_RCVBUF and SO_SNDBUF when positive.
	// WriteBuffer also sets the largest datagram the socket can send.
	ReadBuffer  int
	WriteBuffer int
	// MessageBuffer is the initial receive buffer of a datagram or
	// seqpacket socket; it grows for larger messages, up to the session's
	// MaxPackageSize. While it is larger than MaxPackageSize, every message
	// is received with one system call; otherwise the size of each is
	// peeked first (two calls). Default DefaultMessageBuffer (256 KiB),
	// which covers the largest datagram of a default send buffer: set
	// MaxPackageSize below it for one call per message.
	MessageBuffer int
}

func (c *Config) orZero() Config {
	var z Config
	if c != nil {
		z = *c
	}
	if z.Mode == 0 {
		z.Mode = DefaultMode
	}
	if z.MessageBuffer <= 0 {
		z.MessageBuffer = DefaultMessageBuffer
	}
	return z
}

// bufferer is the part of *net.UnixConn that sets kernel buffers.
type bufferer interface {
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

func (c *Config) setBuffers(b bufferer) error {
	if c.ReadBuffer > 0 {
		if err := b.SetReadBuffer(c.ReadBuffer); err != nil {
			return err
		}
	}
	if c.WriteBuffer > 0 {
		if err := b.SetWriteBuffer(c.WriteBuffer); err != nil {
			return err
		}
	}
	return nil
}

// Listener yields the connections of one Unix socket to a getty.Server.
//
// For Stream it accepts *net.UnixConn streams; for Seqpacket,
// *SeqpacketConn. For Datagram there is a single socket: the first Accept
// returns it as a *PacketConn (one session serves every peer) and later
// calls wait until the listener is closed. Its methods are safe for
// concurrent use.
type Listener struct {
	network Network
	cfg     Config
	ln      *net.UnixListener // Stream, Seqpacket
	file    *sockFile         // Stream, Seqpacket: nil for abstract names

	mu     sync.Mutex  // guards pc, handed
	pc     *PacketConn // Datagram
	handed bool        // Accept returned pc: the session owns it
	done   chan struct{}
	once   sync.Once
}

// Listen binds a socket of the given kind to path (a file path, or
// "@name" for a Linux abstract address) and listens. An empty path, like
// port 0, lets the kernel pick a free abstract name (see Addr). A nil cfg
// means defaults. It fails with ErrAddrInUse when a live socket owns the
// path.
func Listen(network Network, path string, cfg *Config) (*Listener, error) {
	c := cfg.orZero()
	l := &Listener{network: network, cfg: c, done: make(chan struct{})}
	switch network {
	case Stream, Seqpacket:
		ln, file, err := listenStream(network, path, &c)
		if err != nil {
			return nil, err
		}
		l.ln, l.file = ln, file
	case Datagram:
		pc, err := listenPacket(path, &c)
		if err != nil {
			return nil, err
		}
		l.pc = pc
	default:
		return nil, fmt.Errorf("%w: unix: unknown network %q (have unix, unixgram, unixpacket)", getty.ErrInvalidOptions, network)
	}
	return l, nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (getty.Conn, error) {
	if l.network == Datagram {
		return l.acceptPacket()
	}
	for {
		uc, err := l.ln.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if err := l.cfg.setBuffers(uc); err != nil {
			uc.Close() //nolint:errcheck // the peer is likely gone; the connection is discarded
			continue
		}
		if l.network == Seqpacket {
			return newSeqpacketConn(uc, &l.cfg)
		}
		return uc, nil
	}
}

func (l *Listener) acceptPacket() (getty.Conn, error) {
	select {
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: string(Datagram), Addr: l.Addr(), Err: net.ErrClosed}
	default:
	}
	l.mu.Lock()
	if !l.handed {
		l.handed = true
		pc := l.pc
		l.mu.Unlock()
		return pc, nil
	}
	l.mu.Unlock()
	<-l.done
	return nil, &net.OpError{Op: "accept", Net: string(Datagram), Addr: l.Addr(), Err: net.ErrClosed}
}

// Close stops listening and removes the socket file. A datagram socket
// already handed to a session stays open until that session closes it
// (Server.Shutdown does); its file goes with it.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		if l.network == Datagram {
			l.mu.Lock()
			pc, handed := l.pc, l.handed
			l.mu.Unlock()
			if !handed {
				err = pc.Close()
			}
			return
		}
		err = l.ln.Close()
		if rerr := l.file.remove(); err == nil {
			err = rerr
		}
	})
	return err
}

// Addr is the bound address: the path, or "@name".
func (l *Listener) Addr() net.Addr {
	if l.network == Datagram {
		return l.pc.LocalAddr()
	}
	return l.ln.Addr()
}

// Dialer connects a getty.Client to a Unix socket.
type Dialer struct {
	// Network is the kind of socket; "" means Stream.
	Network Network
	// Addr is the server's path, or "@name" for an abstract address.
	Addr string
	// LocalAddr, for Datagram only, is the path or "@name" the client
	// binds so that the server can reply. Empty means a Linux autobind
	// abstract address (an "@" and five hex digits, chosen by the kernel).
	// A path is handled like a listener's: stale files are replaced, the
	// file gets Config.Mode and is removed when the connection closes.
	LocalAddr string
	Config
}

// Dial connects to d.Addr. It returns a *net.UnixConn (Stream), a
// *SeqpacketConn (Seqpacket) or a connected *PacketConn (Datagram).
func (d Dialer) Dial(ctx context.Context) (getty.Conn, error) {
	c := d.Config.orZero()
	network := d.Network
	if network == "" {
		network = Stream
	}
	switch network {
	case Stream, Seqpacket:
		if d.LocalAddr != "" {
			return nil, fmt.Errorf("%w: unix: LocalAddr is for Datagram dialers", getty.ErrInvalidOptions)
		}
		var nd net.Dialer
		conn, err := nd.DialContext(ctx, string(network), d.Addr)
		if err != nil {
			return nil, err
		}
		uc := conn.(*net.UnixConn)
		if err := c.setBuffers(uc); err != nil {
			uc.Close() //nolint:errcheck // the dial failed; its error is returned
			return nil, err
		}
		if network == Seqpacket {
			return newSeqpacketConn(uc, &c)
		}
		return uc, nil
	case Datagram:
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return dialPacket(d.Addr, d.LocalAddr, &c)
	}
	return nil, fmt.Errorf("%w: unix: unknown network %q (have unix, unixgram, unixpacket)", getty.ErrInvalidOptions, network)
}
