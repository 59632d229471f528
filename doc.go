// Package getty is a network engine: one session model for TCP, TLS, UDP,
// WebSocket and Unix-domain sockets.
//
// The vocabulary, in the order data flows:
//
//   - A transport package (transport/tcp, ...) yields connections: a Listener
//     for a Server, a Dialer for a Client. A connection is a stream (a
//     net.Conn: bytes) or a MessageConn (whole messages; a PacketConn when
//     they are datagrams with addresses).
//   - A Session wraps each connection. Its read loop decodes packages with
//     the Codec and hands them to the Handler; Session.Write encodes a
//     package and sends it, from any goroutine.
//   - The Handler is user code: OnOpen, OnMessage, OnCron, OnError, OnClose.
//     For one session the callbacks never overlap, and OnClose runs exactly
//     once.
//   - A Server accepts; a Client keeps N connections to one server and
//     reconnects them.
//
// # Concurrency
//
// Server, Client and Session methods are safe for concurrent use. Each
// session has one goroutine that reads and runs callbacks (unless a TaskPool
// runs them). Writes need no goroutine: the writer that finds the socket idle
// writes, and writes arriving meanwhile are batched into its next system
// call. Timeouts and cron ticks of all sessions of a server or client come
// from one shared timing wheel.
//
// # Errors
//
// Sentinel errors (ErrMessageTooLarge, ErrReadTimeout, ...) are matched with
// errors.Is; failed operations come as *OpError. The error that ends a
// session is reported once to OnError, then OnClose runs, and Session.Err
// keeps it.
package getty
