package ws

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrProtocol means the peer broke RFC 6455 (an unmasked client frame,
	// a reserved opcode, a fragmented control frame, ...). The connection
	// is closed with status 1002.
	ErrProtocol = errors.New("ws: protocol error")
	// ErrInvalidUTF8 means a text message or a close reason was not valid
	// UTF-8. The connection is closed with status 1007.
	ErrInvalidUTF8 = errors.New("ws: invalid UTF-8 in text")
	// ErrPeerClosed is wrapped by the CloseError of a peer that closed with
	// a status other than 1000 (normal), 1001 (going away) or none.
	ErrPeerClosed = errors.New("ws: peer closed the connection with an error status")
	// ErrHandshake means the HTTP upgrade failed.
	ErrHandshake = errors.New("ws: handshake failed")
	// ErrOrigin means the upgrade request came from an origin that is not
	// allowed (HTTP 403).
	ErrOrigin = errors.New("ws: origin not allowed")
	// ErrClosed is returned by operations on a closed connection or
	// listener; it wraps net.ErrClosed.
	ErrClosed = fmt.Errorf("ws: closed: %w", net.ErrClosed)
)

// StatusCode is a WebSocket close status (RFC 6455 section 7.4).
type StatusCode uint16

// Close status codes.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	// StatusNoStatus (1005) is reported when a close frame carried no code;
	// it is never sent.
	StatusNoStatus StatusCode = 1005
	// StatusAbnormalClosure (1006) is reported when the connection dropped
	// without a close frame; it is never sent.
	StatusAbnormalClosure    StatusCode = 1006
	StatusInvalidPayload     StatusCode = 1007
	StatusPolicyViolation    StatusCode = 1008
	StatusMessageTooBig      StatusCode = 1009
	StatusMandatoryExtension StatusCode = 1010
	StatusInternalError      StatusCode = 1011
	StatusServiceRestart     StatusCode = 1012
	StatusTryAgainLater      StatusCode = 1013
	StatusBadGateway         StatusCode = 1014
)

func (c StatusCode) String() string {
	names := map[StatusCode]string{
		1000: "normal closure", 1001: "going away", 1002: "protocol error",
		1003: "unsupported data", 1005: "no status", 1006: "abnormal closure",
		1007: "invalid payload data", 1008: "policy violation",
		1009: "message too big", 1010: "mandatory extension",
		1011: "internal error", 1012: "service restart",
		1013: "try again later", 1014: "bad gateway",
	}
	if n, ok := names[c]; ok {
		return strconv.Itoa(int(c)) + " " + n
	}
	return strconv.Itoa(int(c))
}

// validWire reports whether c may appear in a close frame on the wire.
func (c StatusCode) validWire() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// CloseError describes a close handshake: the status code and reason that
// one side sent. The session's cause (Session.Err) holds it when the
// connection ended with a close frame.
//
// A CloseError received from the peer with status 1000, 1001 or no status
// wraps io.EOF: an orderly close, not reported through OnError. Any other
// status received wraps ErrPeerClosed. A CloseError that this side sent
// because the peer misbehaved (Local) wraps the cause: ErrProtocol,
// ErrInvalidUTF8, getty.ErrMessageTooLarge, or getty.ErrBadPackage for a
// compressed message that does not inflate.
type CloseError struct {
	Code   StatusCode
	Reason string
	// Local is true when this side detected the problem and sent the close
	// frame; false when the peer sent it.
	Local bool
	Err   error
}

// CloseCode returns the close status (getty.CloseCoder), so metrics
// adapters can count WebSocket close codes.
func (e *CloseError) CloseCode() int { return int(e.Code) }

func (e *CloseError) Error() string {
	who := "peer closed"
	if e.Local {
		who = "closing"
	}
	s := "ws: " + who + " with status " + e.Code.String()
	if e.Reason != "" {
		s += " (" + strconv.Quote(e.Reason) + ")"
	}
	if e.Err != nil && !errors.Is(e.Err, io.EOF) {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error (io.EOF for an orderly close).
func (e *CloseError) Unwrap() error { return e.Err }

// peerClose builds the error for a close frame received from the peer.
func peerClose(code StatusCode, reason string) *CloseError {
	e := &CloseError{Code: code, Reason: reason, Err: io.EOF}
	if code != StatusNormalClosure && code != StatusGoingAway && code != StatusNoStatus {
		e.Err = ErrPeerClosed
	}
	return e
}

// protocolError is the error for a frame that breaks RFC 6455.
func protocolError(reason string) *CloseError {
	return &CloseError{Code: StatusProtocolError, Reason: reason, Local: true, Err: ErrProtocol}
}
