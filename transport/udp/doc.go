// Package udp is getty's UDP transport: Listen for a getty.Server, Dialer for
// a getty.Client, and Conn, the socket both yield, as a getty.PacketConn.
//
//	l, err := udp.Listen("127.0.0.1:7000", nil)
//	go srv.Serve(l) // one session: every client's datagrams, each with its sender
//	client, err := getty.Dial(ctx, udp.Dialer{Addr: "127.0.0.1:7000"}, codec, handler, nil)
//
// # Two kinds of endpoint
//
// An unconnected socket (a Listener's) receives from anyone and sends to any
// address: every package reaches PacketHandler.OnPacket with its sender, and
// every write names its destination (Session.WriteTo; Session.Write fails
// with getty.ErrNoDestination). A connected socket (a Dialer's, or any Conn
// after Connect) has one peer: Session.Write sends there, and datagrams from
// anyone else never reach the handler. Connect again to change the peer
// (a TFTP-style server connects its session to the client it serves).
//
// Both kinds use one read path, which always learns the sender, and one
// write path, which sends with no address when connected. On Linux, reads
// and writes move up to Config.ReadBatch and Config.WriteBatch datagrams per
// system call (recvmmsg and sendmmsg, through golang.org/x/net/ipv4 and
// ipv6), and a run of equal-size datagrams to one destination crosses the
// network stack as one unit that the kernel splits at the last moment (UDP
// segmentation offload, UDP_SEGMENT); elsewhere one datagram per call. The
// session sends the replies to one received batch as one batch.
//
// # Datagrams and packages
//
// A datagram carries one or more whole packages; a package never spans two
// datagrams. A package larger than Config.MaxDatagramSize (65507 bytes on
// IPv4) is refused by Session.Write with an error wrapping
// getty.ErrMessageTooLarge, before any system call. A received datagram
// larger than the read buffer is dropped and reported to OnError as a
// *getty.PacketError wrapping ErrTruncated, never half-decoded; so is a
// datagram whose packages fail to decode. Neither ends the session.
//
// # An honest dial
//
// connect(2) on UDP succeeds even when nobody listens. Dialer.Dial therefore
// rejects a self-connection, sends a probe datagram and waits briefly:
// "connection refused" fails the dial with ErrUnreachable; silence or a reply
// means success. Every Conn drops incoming probes, so getty servers never
// see them. Later ICMP errors on a connected session are reported to OnError
// as a *getty.PacketError wrapping ErrUnreachable; the session stays open
// and its read loop does not spin.
//
// # Counting
//
// Conn.Stats counts datagrams in and out, those the kernel dropped on a full
// receive queue (Linux), truncated and foreign ones, probes, send errors and
// system calls. The Conn of a session is Session.Conn().(*udp.Conn).
package udp
