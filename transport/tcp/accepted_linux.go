package tcp

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// SyscallConn is (a duplicate of) the listening socket, for getty's
// event-loop engine, which accepts connections from the descriptor itself.
// Its Read waits for pending connections. Close closes it too.
func (l *Listener) SyscallConn() (syscall.RawConn, error) { return l.dup.RawConn(l.l) }

// SetupAccepted applies the Config's socket options (TCP_NODELAY,
// keepalive, buffer sizes) to a connection accepted from SyscallConn's
// descriptor, as Accept does to its connections.
func (l *Listener) SetupAccepted(fd uintptr) error {
	c := &l.cfg
	s := int(fd)
	nodelay := 1
	if c.Delay {
		nodelay = 0
	}
	if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY, nodelay); err != nil {
		return err
	}
	if ka := c.KeepAlive; ka < 0 {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0); err != nil {
			return err
		}
	} else {
		if ka == 0 {
			ka = DefaultKeepAlive
		}
		secs := max(int((ka+999_999_999)/1_000_000_000), 1) // whole seconds, rounded up as net does
		for _, o := range [...][3]int{
			{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
			{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs},
			{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs},
			{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 3},
		} {
			if err := unix.SetsockoptInt(s, o[0], o[1], o[2]); err != nil {
				return err
			}
		}
	}
	if c.ReadBuffer > 0 {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, c.ReadBuffer); err != nil {
			return err
		}
	}
	if c.WriteBuffer > 0 {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, c.WriteBuffer); err != nil {
			return err
		}
	}
	return nil
}
