// Package loadgen is the load generator behind `getty bench` and the
// side-by-side harness in bench/: it drives any echo server that sends back
// the bytes it receives, using length-prefixed frames (a 4-byte big-endian
// payload length, then the payload: the wire form of codec/lengthfield).
//
// Two modes:
//
//   - Closed loop (Config.Rate == 0): each connection keeps Depth frames in
//     flight; every frame that comes back is replaced by a new one, and the
//     replacements of one read leave in one write. Depth 1 is ping-pong.
//     Latency is the round trip of each frame.
//   - Open loop (Config.Rate > 0): frames leave on a fixed schedule whatever
//     the server does, each stamped with the time it was due to leave, and
//     latency is measured from that due time. A stalled server therefore
//     shows up in the tail instead of slowing the sender down (no coordinated
//     omission).
//
// Stream transports are driven through the raw net.Conn with no engine in
// between, so the generator costs little CPU and the server under test gets
// the machine. Message transports (getty.MessageConn) carry one frame per
// message.
//
// Latencies go into HdrHistograms (github.com/HdrHistogram/hdrhistogram-go)
// in nanoseconds, with three significant digits.
//
// # Concurrency
//
// Run is safe to call from several goroutines for independent runs. It owns
// every goroutine it starts and returns only after all of them have ended.
// Config callbacks run on goroutines owned by Run, one at a time.
package loadgen
