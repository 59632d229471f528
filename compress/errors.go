package compress

import "errors"

// Sentinel errors. Match them with errors.Is. A session that hits one ends
// with an error wrapping it (its cause, see getty.Session.Err).
var (
	// ErrCorrupt means a frame could not be decoded: a malformed header,
	// compressed data its algorithm rejects, or data that decompresses to
	// another size than its frame declares. The stream cannot be resumed
	// after it.
	ErrCorrupt = errors.New("compress: corrupt frame")

	// ErrAlgorithmMismatch means the peer compresses with another
	// algorithm, or does not speak this framing at all (it does not
	// compress): both ends must be configured alike.
	ErrAlgorithmMismatch = errors.New("compress: peer uses another compression algorithm")

	// ErrNotStream is returned by Listener.Accept and Dialer.Dial when the
	// wrapped transport yields a connection that is not a byte stream
	// (net.Conn). Compression is for stream transports (TCP, TLS, Unix
	// stream); WebSocket has permessage-deflate of its own.
	ErrNotStream = errors.New("compress: transport connection is not a stream")
)

// A decompression bomb, a frame that declares more than the session's
// MaxPackageSize (or BatchSize, if larger), is reported with an error
// wrapping getty.ErrMessageTooLarge.
