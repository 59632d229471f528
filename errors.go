package getty

import (
	"errors"
	"fmt"
	"io"
	"net"
)

// Sentinel errors. Match them with errors.Is; getty wraps them with context.
var (
	// ErrSessionClosed is returned by writes on a closed session, and is the
	// cause of a session closed by Session.Close.
	ErrSessionClosed = errors.New("getty: session closed")
	// ErrServerClosed is returned by Serve after Shutdown or Close, and is the
	// cause of sessions ended by them.
	ErrServerClosed = errors.New("getty: server closed")
	// ErrClientClosed is returned by a closed Client, and is the cause of
	// sessions ended by Client.Close.
	ErrClientClosed = errors.New("getty: client closed")
	// ErrMessageTooLarge means a package exceeds the session's MaxPackageSize,
	// detected before a buffer of that size was allocated.
	ErrMessageTooLarge = errors.New("getty: message too large")
	// ErrBadPackage means the codec could not make sense of the input.
	ErrBadPackage = errors.New("getty: malformed package")
	// ErrWriteQueueFull means the session's write backlog reached
	// MaxWriteBacklog (and BlockOnBacklog is off).
	ErrWriteQueueFull = errors.New("getty: write queue full")
	// ErrReadTimeout is the cause of a session whose peer sent nothing for
	// ReadTimeout.
	ErrReadTimeout = errors.New("getty: read timeout")
	// ErrWriteTimeout is the cause of a session whose write stalled for
	// WriteTimeout.
	ErrWriteTimeout = errors.New("getty: write timeout")
	// ErrHandshakeTimeout means the transport handshake (TLS) did not finish
	// within HandshakeTimeout.
	ErrHandshakeTimeout = errors.New("getty: handshake timeout")
	// ErrRejected is the cause of a session refused by OnOpen.
	ErrRejected = errors.New("getty: session rejected")
	// ErrTooManySessions is the cause of a connection refused because the
	// server holds MaxSessions already.
	ErrTooManySessions = errors.New("getty: too many sessions")
	// ErrTooManySessionsPerIP is the cause of a connection refused because
	// its remote IP address holds MaxSessionsPerIP sessions already. It
	// wraps ErrTooManySessions.
	ErrTooManySessionsPerIP = fmt.Errorf("%w from one IP address", ErrTooManySessions)
	// ErrFirstPackageTimeout is the cause of a server session whose peer
	// sent no whole package within FirstPackageTimeout of connecting. It
	// wraps ErrReadTimeout.
	ErrFirstPackageTimeout = fmt.Errorf("%w: no package within the first-package deadline", ErrReadTimeout)
	// ErrNoSession is returned by Client.Session when no connection is up.
	ErrNoSession = errors.New("getty: no open session")
	// ErrNoDestination is returned by Write on a packet session that has no
	// fixed peer: use WriteTo.
	ErrNoDestination = errors.New("getty: write needs a destination address")
	// ErrNotPacket is returned by WriteTo on a session whose transport is not
	// packet-oriented.
	ErrNotPacket = errors.New("getty: WriteTo on a session without packet transport")
	// ErrPanic wraps a panic recovered from a handler callback.
	ErrPanic = errors.New("getty: handler panicked")
	// ErrInvalidOptions is wrapped by constructors that refuse their options.
	ErrInvalidOptions = errors.New("getty: invalid options")
)

// OpError describes a failed operation on a session: what was tried, on which
// session and peer, and why.
type OpError struct {
	Op      string   // "read", "write", "decode", "encode", "handshake", "dial", "accept"
	Session uint64   // session id, 0 when there is none yet
	Addr    net.Addr // remote address, if known
	Err     error
}

func (e *OpError) Error() string {
	s := "getty: " + e.Op
	if e.Session != 0 {
		s += fmt.Sprintf(" session %d", e.Session)
	}
	if e.Addr != nil {
		s += " " + e.Addr.String()
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// Timeout reports whether the error is a timeout.
func (e *OpError) Timeout() bool {
	if errors.Is(e.Err, ErrReadTimeout) || errors.Is(e.Err, ErrWriteTimeout) || errors.Is(e.Err, ErrHandshakeTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// PacketError is a non-fatal error about one datagram or message (it was
// truncated, it could not be decoded, an ICMP error arrived for it). Packet
// transports return it from ReadMessage; the session reports it to OnError
// and keeps reading.
type PacketError struct {
	Addr net.Addr // the peer concerned, if known
	Err  error
}

func (e *PacketError) Error() string {
	if e.Addr != nil {
		return "getty: packet from " + e.Addr.String() + ": " + e.Err.Error()
	}
	return "getty: packet: " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *PacketError) Unwrap() error { return e.Err }

// isQuietCause reports whether a close cause is an ordinary ending that is
// not reported through OnError.
func isQuietCause(err error) bool {
	return err == nil ||
		errors.Is(err, ErrSessionClosed) ||
		errors.Is(err, ErrServerClosed) ||
		errors.Is(err, ErrClientClosed) ||
		errors.Is(err, io.EOF)
}
