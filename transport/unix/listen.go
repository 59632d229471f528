//go:build linux

package unix

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/gettynet/getty"
	"github.com/gettynet/getty/internal/listenfd"
)

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
	dup     listenfd.Dup      // SyscallConn's socket (Stream)

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
		if derr := l.dup.Close(); err == nil {
			err = derr
		}
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

// PlainStream reports whether the listener yields plain stream sockets,
// which getty's event-loop engine can drive (Stream does; Seqpacket and
// Datagram need the goroutine engine).
func (l *Listener) PlainStream() bool { return l.network == Stream }
