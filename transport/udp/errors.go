package udp

import (
	"errors"
	"syscall"
)

// Sentinel errors. Match them with errors.Is; the transport wraps them with
// details (and, where there is one, the system call's error, so
// errors.Is(err, syscall.ECONNREFUSED) holds as well).
var (
	// ErrUnreachable means the peer cannot be reached: an ICMP error (port
	// unreachable, shown by the kernel as "connection refused"; host or
	// network unreachable) came back. Dial fails with it when nobody
	// listens; on an open connected session it arrives as a non-fatal
	// *getty.PacketError.
	ErrUnreachable = errors.New("udp: peer unreachable")
	// ErrSelfConnect means a dial ended up connected to its own local
	// address (the kernel picked the target port as the local port), so it
	// would only ever talk to itself.
	ErrSelfConnect = errors.New("udp: dial connected the socket to itself")
	// ErrDatagramTooLarge means a datagram exceeds Config.MaxDatagramSize.
	// Errors that wrap it wrap getty.ErrMessageTooLarge too.
	ErrDatagramTooLarge = errors.New("udp: datagram too large")
	// ErrTruncated means an incoming datagram was larger than the receive
	// buffer (MSG_TRUNC): it was dropped, never half-decoded.
	ErrTruncated = errors.New("udp: datagram truncated")
	// ErrNotPeer means a write on a connected socket named a destination
	// other than the connected peer.
	ErrNotPeer = errors.New("udp: destination is not the connected peer")
	// ErrBadAddress means a destination is not a usable *net.UDPAddr.
	ErrBadAddress = errors.New("udp: bad destination address")
)

// icmpErrno reports errors that the kernel raises on a connected UDP socket
// after an ICMP error came back for an earlier datagram.
func icmpErrno(err error) bool {
	for _, e := range [...]syscall.Errno{syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// datagramErrno reports send errors that concern one datagram (its
// destination or size) rather than the socket: the datagram is dropped and
// the socket goes on.
func datagramErrno(err error) bool {
	if icmpErrno(err) {
		return true
	}
	for _, e := range [...]syscall.Errno{syscall.EINVAL, syscall.EAFNOSUPPORT, syscall.EACCES, syscall.EPERM,
		syscall.EMSGSIZE, syscall.EDESTADDRREQ, syscall.EADDRNOTAVAIL, syscall.ENOBUFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func errorIs(err error, target syscall.Errno) bool { return errors.Is(err, target) }
