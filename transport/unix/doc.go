// Package unix is getty's Unix-domain socket transport, in its three kinds:
//
//   - Stream ("unix"): like TCP. Listen yields *net.UnixConn streams; the
//     codec frames the bytes.
//   - Datagram ("unixgram"): a packet transport like UDP, but reliable and
//     ordered. The server's socket is one packet session; every package
//     carries its sender's address (PacketHandler.OnPacket) and replies go
//     out with Session.WriteTo.
//   - Seqpacket ("unixpacket"): connection-oriented like a stream, with
//     message boundaries like datagrams: one message per package.
//
// The transport needs Linux; elsewhere Listen and Dialer.Dial fail with an
// error wrapping errors.ErrUnsupported.
//
// A server listens, a client dials:
//
//	l, err := unix.Listen(unix.Stream, "/run/app.sock", nil)
//	go srv.Serve(l)
//	client, err := getty.Dial(ctx, unix.Dialer{Addr: "/run/app.sock"}, codec, handler, nil)
//
// # Socket files
//
// Listen creates the socket file with Config.Mode (0600 unless set); at no
// moment does the file have wider permissions. If the path exists, Listen
// finds out whether a live server owns it (by connecting to it: a live
// stream server sees a connection open and close). A live one makes Listen
// fail with ErrAddrInUse; a stale file left by a server that died is
// replaced; a path that is not a socket is never touched. The file is removed when the listener closes
// (Server.Shutdown and Server.Close close it), unless another socket has
// replaced it meanwhile. Paths are limited to 107 bytes (the kernel's
// sun_path).
//
// A name starting with "@" is a Linux abstract address: it lives in the
// kernel, not on disk, so there is no file, no mode and nothing stale. An
// empty path, like port 0, makes the kernel pick a free abstract name.
//
// # Datagram size
//
// Linux refuses a Unix datagram (or seqpacket message) larger than the
// sending socket's send buffer (SO_SNDBUF) less 32 bytes. With the default
// 212,992-byte buffer that is 212,960 bytes on the kernels we test (Linux
// 6.x); the figure of about 130,688 bytes often quoted comes from older
// kernels and smaller defaults. Config.WriteBuffer moves it (the kernel caps
// the request at net.core.wmem_max, then doubles it). PacketConn.MaxDatagram
// and SeqpacketConn.MaxMessage report the limit read from the socket when it
// was made. A larger Session.Write is refused before any system call with an
// error wrapping ErrDatagramTooLarge (and getty.ErrMessageTooLarge) that
// gives the size and the limit; the session stays usable. Should a kernel
// still answer EMSGSIZE below that limit, the error wraps
// ErrDatagramTooLarge too, and ends the session as any failed write does.
//
// Receiving, a datagram over the session's MaxPackageSize is dropped and
// reported to OnError (a *getty.PacketError); a seqpacket message over it
// ends the session. See Config.MessageBuffer for the cost of reading.
//
// # Blocking
//
// Unix datagrams are never dropped by the kernel: each receiving socket
// queues at most net.unix.max_dgram_qlen datagrams (10 by default), and a
// writer whose peer has a full queue waits until the reader catches up. A
// session writing to a lagging reader therefore stalls, and its Write calls
// queue up behind the stalled one (up to MaxWriteBacklog). If one flush
// stalls longer than the session's WriteTimeout, the session closes with
// getty.ErrWriteTimeout; nothing already handed to the kernel is lost. Note
// that a server's datagram socket is one session shared by all its peers:
// one client that stops reading stalls the replies to everyone, and ends
// the server's session after WriteTimeout. An unconnected socket (a server)
// is woken when the lagging reader consumes one of its own datagrams; if the
// reader's queue is full of other senders' datagrams, it waits for the
// WriteTimeout.
//
// A datagram whose destination has gone (its socket closed or its file
// removed) is dropped and counted (PacketConn.Dropped) on an unconnected
// socket, as UDP would lose it; on a connected socket (a client) it ends the
// session, which the client then redials.
//
// # Peer credentials
//
// PeerCred reports the process id, user id and group id of the process at
// the other end of a stream or seqpacket connection (SO_PEERCRED), taken by
// the kernel when the connection was made: a server can authorise local
// clients in OnOpen.
package unix
