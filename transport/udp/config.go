package udp

import (
	"fmt"
	"time"

	"github.com/gettynet/getty"
)

// Limits and defaults.
const (
	// MaxDatagramIPv4 is the largest UDP payload over IPv4: 65535 minus the
	// 20-byte IP header and the 8-byte UDP header.
	MaxDatagramIPv4 = 65507
	// MaxDatagramIPv6 is the largest UDP payload over IPv6 without jumbograms:
	// 65535 minus the 8-byte UDP header (the IPv6 header is not counted in
	// the payload length).
	MaxDatagramIPv6 = 65527
	// DefaultReadBatch is how many datagrams one receive system call may
	// return (recvmmsg on Linux) when Config.ReadBatch is zero.
	DefaultReadBatch = 32
	// DefaultWriteBatch is how many datagrams one send system call may carry
	// (sendmmsg on Linux) when Config.WriteBatch is zero.
	DefaultWriteBatch = 64
	// DefaultProbeWait is how long Dialer.Dial waits for a "connection
	// refused" after its probe when Dialer.ProbeWait is zero.
	DefaultProbeWait = 100 * time.Millisecond
)

// DefaultProbe returns the payload of the datagram Dialer.Dial sends to find
// out whether anybody listens, when Config.Probe is nil. Every Conn drops
// incoming datagrams equal to its probe, so getty servers never hand probes
// to the handler. It returns a fresh slice on each call.
func DefaultProbe() []byte { return []byte("\x00getty-udp-probe\x00") }

// Config holds the socket options of a UDP endpoint. The zero value is ready
// to use.
type Config struct {
	// ReadBuffer and WriteBuffer set SO_RCVBUF and SO_SNDBUF when positive
	// (the kernel may round or cap them: see net.core.rmem_max). Default:
	// the kernel's.
	ReadBuffer  int
	WriteBuffer int

	// MaxDatagramSize is the largest datagram the endpoint sends or
	// receives. A larger write is refused before any system call, with an
	// error wrapping ErrDatagramTooLarge and getty.ErrMessageTooLarge; a
	// larger incoming datagram is dropped and reported as truncated (a
	// *getty.PacketError wrapping ErrTruncated). Each datagram of a receive
	// batch gets a buffer of this size. Default: MaxDatagramIPv4 (65507) on
	// IPv4 and dual-stack sockets, MaxDatagramIPv6 (65527) on IPv6-only ones.
	MaxDatagramSize int

	// ReadBatch caps how many datagrams one receive system call returns
	// (recvmmsg on Linux; one per call elsewhere). The batch starts at one
	// and doubles while receives come back full, so idle sockets keep one
	// buffer. Default DefaultReadBatch (32); 1 turns batching off.
	ReadBatch int
	// WriteBatch caps how many datagrams one send system call carries
	// (sendmmsg on Linux; one per call elsewhere). Default DefaultWriteBatch
	// (64); 1 turns batching off.
	WriteBatch int
	// NoGSO turns off UDP segmentation offload (Linux UDP_SEGMENT), with
	// which a run of equal-size datagrams to one destination crosses the
	// network stack as one unit and is split into datagrams at the last
	// moment. It is on wherever the kernel has it (Linux 4.18), unless
	// WriteBatch is 1; a path that refuses it turns it off by itself.
	NoGSO bool

	// Probe is the payload of dial probes (see Dialer). Every endpoint drops
	// incoming datagrams equal to it, so a server and its clients must agree
	// on it. Default: DefaultProbe().
	Probe []byte
}

// resolved returns c with every default filled in, for a socket whose
// maximum payload is familyMax.
func (c *Config) resolved(familyMax int) (Config, error) {
	var r Config
	if c != nil {
		r = *c
	}
	if r.ReadBuffer < 0 || r.WriteBuffer < 0 || r.MaxDatagramSize < 0 || r.ReadBatch < 0 || r.WriteBatch < 0 {
		return r, fmt.Errorf("%w: udp: Config fields must not be negative", getty.ErrInvalidOptions)
	}
	if r.MaxDatagramSize == 0 {
		r.MaxDatagramSize = familyMax
	}
	if r.MaxDatagramSize > familyMax {
		return r, fmt.Errorf("%w: udp: MaxDatagramSize %d exceeds %d, the largest UDP payload on this socket", getty.ErrInvalidOptions, r.MaxDatagramSize, familyMax)
	}
	if r.ReadBatch == 0 {
		r.ReadBatch = DefaultReadBatch
	}
	if r.WriteBatch == 0 {
		r.WriteBatch = DefaultWriteBatch
	}
	// sendmmsg and recvmmsg take at most UIO_MAXIOV (1024) messages.
	r.ReadBatch = min(r.ReadBatch, 1024)
	r.WriteBatch = min(r.WriteBatch, 1024)
	if r.Probe == nil {
		r.Probe = DefaultProbe()
	} else {
		r.Probe = append([]byte(nil), r.Probe...)
	}
	return r, nil
}
