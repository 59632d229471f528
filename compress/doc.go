// Package compress adds compression to getty's stream transports (TCP, TLS,
// Unix stream) without giving up read deadlines, idle timeouts or
// heartbeats.
//
// Wrap a transport's listener or dialer; the sessions then run as usual,
// with the same codec and handler:
//
//	l, _ := tcp.Listen("127.0.0.1:7000", nil)
//	cl, _ := compress.NewListener(l, &compress.Config{Algorithm: compress.S2})
//	go srv.Serve(cl)
//
//	d, _ := compress.NewDialer(tcp.Dialer{Addr: "127.0.0.1:7000"}, &compress.Config{Algorithm: compress.S2})
//	client, _ := getty.Dial(ctx, d, codec, handler, nil)
//
// Both ends must use the same Algorithm; a mismatch, or a peer that does
// not compress, ends the session with ErrAlgorithmMismatch, and undecodable
// data with ErrCorrupt.
//
// # How it works
//
// A wrapped connection is a getty.MessageConn. Every batch of packages the
// session writes (Write, WriteBytes and WriteBuffers alike: the engine hands
// each to the transport as a message) is packed into frames: a 5-byte header
// (a flag byte with the algorithm id and a compressed/raw bit, and the body
// length), then the body, compressed whole when it is large enough and
// compression shrinks it. The reader reads one frame with a plain buffered
// reader, checks its declared size against the session's MaxPackageSize,
// and only then decompresses the whole body in memory, in one call, into a
// buffer of exactly the declared size. The codec decodes the packages from
// that as on any message transport. docs/compression.md describes the wire
// format.
//
// # On the event-loop engine
//
// Servers and clients with getty.EngineEventLoop (Linux) run compressed
// connections over plain TCP and Unix stream sockets (not TLS: the event
// loop refuses it with or without compression). A Conn is a
// getty.FramedConn: the engine takes the socket over, its loop reads it
// into the loop's buffer and pushes the bytes to DecodeFrame, which checks
// each frame header (algorithm, declared size against MaxPackageSize) as
// soon as it has arrived and decodes whole frames only; NextMessage then
// hands their messages to the codec. Only the start of a partial frame
// stays with the session between reads, in a pooled buffer, and a silent
// connection holds none. Writes are packed into frames by AppendFrames and
// offered to the socket without blocking; what the socket does not take is
// written by a background flusher. The wire format, limits, errors and
// statistics are those of the goroutine engine.
//
// # Why the original's compression spun at 100% CPU, and why this cannot
//
// The original getty compressed TCP by wrapping the connection in stream
// codecs: flate.NewReader(conn) and snappy.NewReader(conn) for reading,
// flate.NewWriter(conn) for writing; WebSocket used gorilla/websocket's
// permessage-deflate. Its read loop used the read deadline as a poll: on a
// timeout error it went round and read again, which is correct for a bare
// net.Conn (a deadline error is not sticky there: move the deadline and the
// next Read blocks again).
//
// A stream decompressor is not a net.Conn. Both compress/flate's and
// klauspost's decompressor store the first error of the reader beneath
// them in a field (f.err) and return it from every later Read without
// reading again; golang/snappy's Reader does the same (r.err). So once a
// deadline expired inside the decompressor's read of the socket, the
// timeout became permanent: every later Read returned it at once, without a
// system call, and the read loop, taking it for the usual poll timeout,
// went round forever: one core at 100%. (Resuming would be wrong anyway: a
// deflate stream cut at an arbitrary bit cannot be picked up again after
// an error.) gorilla/websocket behaves the same by design: after any read
// error, including a deadline, NextReader returns that same error forever
// ("all future reads will return an error"), and because applications that
// ignore it spin, it counts the calls and panics with "repeated read on
// failed websocket connection" at the 1000th. That was the panic. Dropping
// read deadlines when compression was on made the symptom go away and took
// idle detection with it.
//
// The real cause is the combination: a read loop that treats a timeout as
// recoverable, over a reader whose errors are sticky. This package removes
// both halves:
//
//   - No decompressor ever reads from the network. Frames are read by a
//     plain read-ahead buffer, which keeps no state and no errors; the
//     decompressor runs afterwards on complete bytes in memory, so a
//     deadline, a reset or EOF can only interrupt the framing read, never a
//     decompression. A deadline in the middle of a frame leaves the frame
//     reader where it was: a later ReadMessage resumes the same frame.
//   - The session engine treats every read error on a stream or message
//     session as final: the session closes, the cause is reported once
//     (OnError, then OnClose), and no read is tried again. Idle detection
//     does not use per-read deadlines at all: the engine's timing wheel
//     closes an idle session (cause getty.ErrReadTimeout) by setting a
//     past deadline once.
//   - Errors in the data (ErrCorrupt, ErrAlgorithmMismatch, a too large
//     frame) are final by design and end the session the same way.
//
// The tests prove it on real sockets, on both engines: with compression on
// and a 200 ms
// ReadTimeout, a silent peer (also one silent in the middle of a frame)
// ends its session once with getty.ErrReadTimeout and the process then uses
// next to no CPU (under a millisecond in the following second, measured
// with getrusage); heartbeats (OnCron writes) keep a quiet link open across
// many read timeouts.
//
// # Decompression bombs
//
// A frame carries at most 256 messages (a sender batches no more), so a
// few compressed bytes cannot stand for millions of empty messages, each
// a callback; a frame with more is corrupt.
//
// A frame's decompressed size is capped at the session's MaxPackageSize, or
// at Config.BatchSize if that is larger (64 KiB by default; frames batch
// small messages), plus a few bytes of record header; the codec still holds
// each package to MaxPackageSize. The frame declares it up front, and
// a larger declaration is refused with getty.ErrMessageTooLarge before
// anything is decompressed. Each algorithm is also held to the declaration
// on its own terms, since the compressed data could disagree with it:
//
//   - S2 and Snappy blocks declare their decoded length, and s2.Decode
//     allocates it (a 6-byte block can claim 4 GiB): it is checked against
//     the cap and the frame before decoding.
//   - zstd frames must carry a content size equal to the frame's, a window
//     of at most 8 MiB and no dictionary (a frame without a size header
//     otherwise makes the decoder size its output from guesses, and a large
//     window can cost ~100 MiB); the decoder runs with a memory limit and
//     WithDecodeAllCapLimit into a buffer of exactly the declared size.
//   - deflate declares nothing: its output is read through a window of
//     exactly the declared size, and one more byte must not exist.
//
// Data that inflates past its declaration is ErrCorrupt; memory stays
// bounded by the declaration, hence by the cap.
//
// # Choosing an algorithm
//
// S2 is the default. The issue that asked for this package measured on
// 1 KiB JSON frames (MB/s compress / decompress, ratio): S2 1,211 / 4,909
// (1.52); zstd fastest 149 / 364 (1.94); klauspost deflate level 1
// 163 / 126; stdlib deflate level 1 46 / 126. S2 is eight times faster than
// zstd to compress and thirteen times faster to decompress, and keeps no
// compressor state at all, where a deflate writer holds about 1 MiB. zstd
// buys a wire about a quarter smaller for five to eight times the CPU
// (measured here end to end): worth it on slow or metered links, not on a
// LAN. Deflate is for interoperating with deflate-only tools.
// bench/compress/README.md has the figures measured on this package.
//
// Small frames (under Config.Threshold, 256 bytes by default) travel raw,
// and so does any frame that compression would not shrink (random or
// already compressed data). Packages written together are batched into one
// frame (Config.BatchSize), so a stream of small packages still
// compresses well.
//
// # Resources
//
// Compressors are shared and pooled: S2 and Snappy are stateless; the zstd
// encoder and decoder are created once per Listener, Dialer or NewConn and
// reused concurrently; deflate writers and readers come from free lists.
// Frame buffers come from a size-classed pool and go back when the next
// frame is read; a body's buffer grows as its bytes arrive (a header alone
// costs 64 KiB at most), and a connection waiting for its peer holds no
// read buffer. Nothing is allocated per package in steady state.
package compress
