package getty

// Codec turns bytes into packages and packages into bytes. One Codec value
// serves every session of a server or client, from many goroutines at once,
// so it must keep no per-session state.
type Codec[T any] interface {
	// Decode decodes one package from the front of data and reports how many
	// bytes it used. When data does not yet hold a whole package it returns
	// n == 0 and a nil error, and is called again with more data.
	//
	// max is the session's MaxPackageSize: a package whose encoded size
	// would exceed it must be refused with an error wrapping
	// ErrMessageTooLarge as soon as its header says so, before anything of
	// that size is allocated. Malformed input returns an error wrapping
	// ErrBadPackage. A decode error ends a stream session.
	//
	// The package may alias data (zero copy): such a package is valid only
	// until the handler callback returns. A codec that does this should
	// implement Detacher so that the engine can hand packages to other
	// goroutines safely.
	Decode(data []byte, max int) (pkg T, n int, err error)
	// Encode appends the encoded form of pkg to dst and returns the extended
	// slice.
	Encode(dst []byte, pkg T) ([]byte, error)
}

// Detacher is implemented by codecs whose decoded packages alias the read
// buffer. Detach returns a copy of pkg that owns its memory; the engine calls
// it before a package leaves the read loop's goroutine (a task pool).
type Detacher[T any] interface {
	Detach(pkg T) T
}

// MessageCodec is implemented by codecs that want a whole transport message
// with its kind (WebSocket text or binary) instead of raw bytes. On message
// sessions the engine prefers it over Codec.Decode and Codec.Encode.
type MessageCodec[T any] interface {
	// DecodeMessage decodes the one package that m holds.
	DecodeMessage(m Message) (T, error)
	// EncodeMessage appends the encoded form of pkg to dst and says which
	// kind of message it must travel as.
	EncodeMessage(dst []byte, pkg T) ([]byte, MessageKind, error)
}

// HeaderEncoder is implemented by codecs whose encoding of a package is a
// header followed by bytes the package already holds (package lengthfield:
// a length, then the []byte package itself). With Options.ZeroCopyReplies
// on the event-loop engine, a handler's reply whose payload still lies in
// the bytes just read (an echo, a relay of part of a request) then leaves
// with a vectored write straight from the read buffer, without being
// copied into the write queue.
type HeaderEncoder[T any] interface {
	// EncodeHeader appends the header of pkg to dst and returns it with
	// the payload: the encoding of pkg is the header followed by payload,
	// exactly what Encode would append.
	EncodeHeader(dst []byte, pkg T) (header, payload []byte, err error)
}
