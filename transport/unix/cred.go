//go:build linux

package unix

import (
	"fmt"
	"os"

	"github.com/gettynet/getty"
	xunix "golang.org/x/sys/unix"
)

// Cred is the identity of the process at the other end of a Unix stream or
// seqpacket connection, as the kernel recorded it when the connection was
// made (connect or listen).
type Cred struct {
	PID int32
	UID uint32
	GID uint32
}

// PeerCred reads the peer's credentials (SO_PEERCRED) from a Unix stream
// connection (*net.UnixConn) or a *SeqpacketConn, typically s.Conn() in
// OnOpen:
//
//	cred, err := unix.PeerCred(s.Conn())
//	if err != nil || cred.UID != allowedUID {
//		return errors.New("not allowed")
//	}
//
// Datagram sockets and other connections yield ErrNoPeerCred.
func PeerCred(c getty.Conn) (Cred, error) {
	switch sc := c.(type) {
	case *PacketConn:
		return Cred{}, fmt.Errorf("%w: datagram sockets have no connection to take them from", ErrNoPeerCred)
	case *SeqpacketConn:
		return sc.PeerCred()
	}
	var (
		uc     *xunix.Ucred
		domain int
		serr   error
	)
	err := rawControl(c, func(fd uintptr) {
		if domain, serr = xunix.GetsockoptInt(int(fd), xunix.SOL_SOCKET, xunix.SO_DOMAIN); serr != nil || domain != xunix.AF_UNIX {
			return
		}
		uc, serr = xunix.GetsockoptUcred(int(fd), xunix.SOL_SOCKET, xunix.SO_PEERCRED)
	})
	switch {
	case err != nil:
		return Cred{}, fmt.Errorf("%w: %w", ErrNoPeerCred, err)
	case serr != nil:
		return Cred{}, fmt.Errorf("%w: %w", ErrNoPeerCred, os.NewSyscallError("getsockopt", serr))
	case domain != xunix.AF_UNIX:
		return Cred{}, fmt.Errorf("%w: %T is not a Unix socket", ErrNoPeerCred, c)
	}
	return Cred{PID: uc.Pid, UID: uc.Uid, GID: uc.Gid}, nil
}
