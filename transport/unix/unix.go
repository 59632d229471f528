package unix

import (
	"errors"
	"os"
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
