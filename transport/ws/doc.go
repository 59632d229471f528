// Package ws is getty's WebSocket transport (RFC 6455, with
// permessage-deflate from RFC 7692): ws:// and wss:// servers and clients
// whose connections are getty.MessageConns.
//
// # Server
//
// Listen runs getty's own HTTP server and upgrades requests on one path;
// NewHandler gives an http.Handler to mount on an existing server or mux,
// which is at the same time the getty.Listener to serve:
//
//	l, _ := ws.Listen("127.0.0.1:8080", &ws.Config{Path: "/ws"})
//	go srv.Serve(l) // srv: a getty.Server
//
//	h, _ := ws.NewHandler(nil)
//	mux.Handle("/ws", h)
//	go srv.Serve(h)
//
// Browsers are held to the same origin unless Config.OriginPatterns (or
// CheckOrigin) allows more. Subprotocols are negotiated from
// Config.Subprotocols. Messages larger than the session's MaxPackageSize
// are refused while they are read (close status 1009), compressed or not.
//
// # Client
//
// Dialer dials ws:// and wss:// URLs with extra headers, subprotocols and a
// TLS config; a getty.Client keeps N of them and reconnects.
//
// # Messages and codecs
//
// Codec with the Message package type hands handlers text and binary
// messages as they came, and sends each Message with its kind. Any other
// getty.Codec works as well: each message is decoded with it, packages go
// out as binary messages.
//
// # Keepalive and closing
//
// With the session's ReadTimeout set, the engine pings a peer that has been
// silent for half of it; the pong counts as traffic, and a peer that answers
// nothing is closed with getty.ErrReadTimeout (status 1001). Session.Close
// sends status 1000, server shutdown 1001; a protocol violation by the peer
// gets 1002, invalid UTF-8 1007, an oversized message 1009. The peer's own
// close frame ends the session with a *CloseError: status 1000 or 1001 wrap
// io.EOF (an orderly close, not reported to OnError), others wrap
// ErrPeerClosed. docs/websocket.md in the repository lists every cause with
// the status it sends.
//
// # Compression and read errors
//
// permessage-deflate is negotiated on both ends (Compression). Outgoing
// messages below Compression.Threshold go uncompressed; the others are
// deflated at Compression.Level without context takeover by compressors
// shared across connections. Incoming compressed messages are first read
// whole (bounded by the size limit), then inflated from memory (the output
// bounded too: decompression bombs end in 1009). A network error or
// deadline therefore never reaches a decompressor, and any read error is
// final for the connection: ReadMessage returns it again at once and the
// session closes once. (The engine this project descends from spun at 100%
// CPU and then panicked here: its WebSocket library kept a failed reader
// and panicked after 1,000 reads of it.)
//
// # Why gobwas/ws
//
// The package uses github.com/gobwas/ws (v1.4.0) for the HTTP upgrade on both
// ends, extension header parsing and frame masking, and does the frame I/O
// itself: a per-connection read buffer that takes a whole small frame with
// its header in one read and hands the message out without a copy, the size
// limit checked against each frame header before anything is buffered,
// every message of a batch framed into one buffer and written with one
// system call, and compressors pooled across connections. A frame-level
// library is what makes that possible. gorilla/websocket (what the original
// getty used) reads through its own io.Reader per message, flushes one
// system call per message, inflates straight off the network stream (the
// mechanism of the original spin) and panics on the 1,000th read after a
// failure; coder/websocket ties reads to contexts and closes the connection
// when one is cancelled, which does not fit the engine's deadline-driven
// wake-ups.
//
// The choice was checked with bench/ws (plain echo servers on each library,
// one message in flight per connection, server pinned to one core; medians
// of 3 rounds on a 2-core machine shared with other work, so absolute
// figures run high). Server CPU per echo, two runs:
//
//	                 64 B x100    4 KiB x100   64 B x1000   4 KiB x1000  idle RSS/conn
//	gorilla          12.5 19.6    24.3 34.6    21.1 22.4    26.6 31.3    20.1 KB
//	coder            20.0 27.2    31.6 30.9    33.4 21.9    47.1 66.5    27 KB
//	gobwas (wsutil)  15.6 15.0    41.7 45.0    23.4 21.0    44.7 41.4    19.5 KB
//	getty (this)     12.4 21.8    18.3 19.6    17.3 21.2    26.8 17.7    15 KB
//
// (µs per message.) As bare libraries gorilla and gobwas are close at 64 B
// and coder costs the most CPU and memory; gobwas's convenience helpers copy
// and allocate per message, which shows at 4 KiB. Used at the frame level
// under getty, it gives the lowest CPU at 4 KiB and the smallest idle
// footprint of the Go peers (nbio's event loop aside: 3.3 KB). The framing
// itself costs 40 to 160 ns per 64 B message with no allocation, compressed
// messages included (BenchmarkReadMessage, BenchmarkWriteMessages).
// bench/ws/README.md has the full tables, with p99 and permessage-deflate.
package ws
