//go:build !unix

package udp

import (
	"errors"
	"net"

	"golang.org/x/net/ipv4"
)

// kernelConnect: without connect(2) access the socket stays unconnected; the
// Conn keeps the peer, sends to it by address and filters what it receives.
const kernelConnect = false

// packetIO is the portable read and write path: one datagram per system
// call through the net package.
type packetIO struct {
	uc *net.UDPConn
}

func newPacketIO(uc *net.UDPConn, _ bool) (*packetIO, error) { return &packetIO{uc: uc}, nil }

func (p *packetIO) readBatch(ms []ipv4.Message) (int, error) {
	m := &ms[0]
	n, oobn, flags, from, err := p.uc.ReadMsgUDP(m.Buffers[0], m.OOB)
	if err != nil {
		return 0, err
	}
	m.N, m.NN, m.Flags, m.Addr = n, oobn, flags, from
	return 1, nil
}

func (p *packetIO) writeBatch(ms []ipv4.Message) (int, error) {
	to, ok := ms[0].Addr.(*net.UDPAddr)
	if !ok {
		return 0, ErrBadAddress
	}
	if _, _, err := p.uc.WriteMsgUDP(ms[0].Buffers[0], nil, to); err != nil {
		return 0, err
	}
	return 1, nil
}

// truncated relies on the one spare byte of the read buffer (see Conn).
func truncated(int) bool { return false }

func (p *packetIO) connect(*net.UDPAddr) error { return nil }

func (p *packetIO) localAddr() (*net.UDPAddr, error) {
	a, ok := p.uc.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil, errors.New("udp: no local address")
	}
	return a, nil
}
