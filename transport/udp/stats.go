package udp

import "sync/atomic"

// Stats counts what one UDP socket did, datagram by datagram. The session's
// own Stats count packages; these count datagrams and everything the
// transport dropped before a package could exist.
//
// Every datagram the kernel queued for the socket ends in exactly one of
// DatagramsIn, Truncated, Foreign or Probes, and Dropped counts those the
// kernel could not queue, so on loopback a peer's datagrams sent equals
// DatagramsIn + Truncated + Foreign + Probes + Dropped once a later datagram
// has carried the final drop count (see Dropped).
type Stats struct {
	DatagramsIn  uint64 // datagrams handed to the session
	BytesIn      uint64 // their payload bytes
	DatagramsOut uint64 // datagrams the kernel accepted for sending
	BytesOut     uint64 // their payload bytes

	// Dropped counts datagrams the kernel dropped because the socket's
	// receive queue was full (SO_RXQ_OVFL, Linux only; 0 elsewhere). The
	// kernel reports the count with each datagram it delivers, so drops
	// after the last delivered datagram show up with the next one.
	Dropped uint64
	// Truncated counts incoming datagrams larger than the receive buffer,
	// dropped and reported as ErrTruncated.
	Truncated uint64
	// Foreign counts datagrams from an address other than the connected
	// peer, dropped (they were queued before a Connect).
	Foreign uint64
	// Probes counts dial probes received and dropped.
	Probes uint64
	// SendErrors counts datagrams that could not be sent (refused by the
	// kernel, a bad or wrong destination, too large) and were dropped.
	SendErrors uint64
	// ICMPErrors counts ICMP errors (connection refused, unreachable)
	// reported by the kernel on a connected socket.
	ICMPErrors uint64

	// Offloaded counts the datagrams of DatagramsOut that went in groups
	// through segmentation offload (UDP_SEGMENT).
	Offloaded uint64

	// ReadCalls and WriteCalls count receive and send system calls; against
	// the datagram counts they show how well batching works.
	ReadCalls  uint64
	WriteCalls uint64
}

type counters struct {
	datagramsIn, bytesIn, datagramsOut, bytesOut atomic.Uint64
	dropped, truncated, foreign, probes          atomic.Uint64
	sendErrors, icmpErrors, offloaded            atomic.Uint64
	readCalls, writeCalls                        atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		DatagramsIn:  c.datagramsIn.Load(),
		BytesIn:      c.bytesIn.Load(),
		DatagramsOut: c.datagramsOut.Load(),
		BytesOut:     c.bytesOut.Load(),
		Dropped:      c.dropped.Load(),
		Truncated:    c.truncated.Load(),
		Foreign:      c.foreign.Load(),
		Probes:       c.probes.Load(),
		SendErrors:   c.sendErrors.Load(),
		ICMPErrors:   c.icmpErrors.Load(),
		Offloaded:    c.offloaded.Load(),
		ReadCalls:    c.readCalls.Load(),
		WriteCalls:   c.writeCalls.Load(),
	}
}
