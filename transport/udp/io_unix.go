//go:build unix

package udp

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// kernelConnect: on Unix the socket itself is connected (connect(2)), so the
// kernel filters incoming datagrams and sends with no address.
const kernelConnect = true

// batcher is what golang.org/x/net's ipv4 and ipv6 PacketConn share:
// recvmmsg and sendmmsg on Linux, one recvmsg or sendmsg per call on other
// Unix systems.
type batcher interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// packetIO is the platform's single read path and single write path.
type packetIO struct {
	b  batcher
	rc syscall.RawConn
	v6 bool // an AF_INET6 socket: IPv4 peers are addressed as v4-mapped
}

func newPacketIO(uc *net.UDPConn, ipv6Family bool) (*packetIO, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	p := &packetIO{rc: rc, v6: ipv6Family}
	if ipv6Family {
		p.b = ipv6.NewPacketConn(uc)
	} else {
		p.b = ipv4.NewPacketConn(uc)
	}
	return p, nil
}

// readBatch receives up to len(ms) datagrams; each message gets its sender
// in Addr, its length in N and MSG_TRUNC in Flags when it did not fit.
func (p *packetIO) readBatch(ms []ipv4.Message) (int, error) {
	return p.b.ReadBatch(ms, 0)
}

// writeBatch sends ms in order and reports how many went out. A message
// with a nil Addr goes to the connected peer.
func (p *packetIO) writeBatch(ms []ipv4.Message) (int, error) {
	return p.b.WriteBatch(ms, 0)
}

// truncated reports whether the kernel cut a received datagram short.
func truncated(flags int) bool { return flags&unix.MSG_TRUNC != 0 }

// connect connects the socket to addr (connect(2)); connecting again
// changes the peer.
func (p *packetIO) connect(addr *net.UDPAddr) error {
	sa, err := sockaddr(addr, p.v6)
	if err != nil {
		return err
	}
	var cerr error
	if err := p.rc.Control(func(fd uintptr) {
		cerr = unix.Connect(int(fd), sa)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return &net.OpError{Op: "connect", Net: "udp", Addr: addr, Err: cerr}
	}
	return nil
}

// localAddr asks the kernel for the socket's address: connecting binds the
// source address, which the net package does not see.
func (p *packetIO) localAddr() (*net.UDPAddr, error) {
	var (
		sa  unix.Sockaddr
		err error
	)
	if cerr := p.rc.Control(func(fd uintptr) { sa, err = unix.Getsockname(int(fd)) }); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.UDPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}, nil
	case *unix.SockaddrInet6:
		a := &net.UDPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a, nil
	}
	return nil, errors.New("udp: unexpected socket address family")
}

func sockaddr(a *net.UDPAddr, v6 bool) (unix.Sockaddr, error) {
	if ip4 := a.IP.To4(); ip4 != nil && !v6 {
		sa := &unix.SockaddrInet4{Port: a.Port}
		copy(sa.Addr[:], ip4)
		return sa, nil
	}
	if ip6 := a.IP.To16(); ip6 != nil {
		sa := &unix.SockaddrInet6{Port: a.Port}
		copy(sa.Addr[:], ip6)
		if a.Zone != "" {
			ifi, err := net.InterfaceByName(a.Zone)
			if err != nil {
				return nil, err
			}
			sa.ZoneId = uint32(ifi.Index)
		}
		return sa, nil
	}
	return nil, ErrBadAddress
}
