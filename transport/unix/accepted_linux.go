package unix

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// SyscallConn is (a duplicate of) the listening stream socket, for getty's
// event-loop engine, which accepts connections from the descriptor itself;
// its Read waits for pending connections, and Close closes it too.
// Datagram and seqpacket listeners have none.
func (l *Listener) SyscallConn() (syscall.RawConn, error) {
	if l.network != Stream {
		return nil, syscall.EOPNOTSUPP
	}
	return l.dup.RawConn(l.ln)
}

// SetupAccepted applies the Config's buffer sizes to a connection accepted
// from SyscallConn's descriptor, as Accept does to its connections.
func (l *Listener) SetupAccepted(fd uintptr) error {
	return l.cfg.setBuffers(fdBuffers(fd))
}

// fdBuffers sets the buffer sizes of a raw descriptor.
type fdBuffers uintptr

func (f fdBuffers) SetReadBuffer(n int) error {
	return unix.SetsockoptInt(int(f), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
}

func (f fdBuffers) SetWriteBuffer(n int) error {
	return unix.SetsockoptInt(int(f), unix.SOL_SOCKET, unix.SO_SNDBUF, n)
}
