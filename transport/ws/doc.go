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
// ErrPeerClosed.
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
// See the benchmark section below and bench/ws/README.md.
package ws
