package getty

import (
	"context"
	"log/slog"
)

// TransportNamer is implemented by connections that name their transport
// for logs and observers ("ws", "wss", ...). Without it a session's
// transport is its local address's network ("tcp", "udp", "unix",
// "unixgram", "unixpacket").
type TransportNamer interface {
	TransportName() string
}

// TransportName names the transport of a session's connection: see
// TransportNamer.
func TransportName(c Conn) string {
	if n, ok := c.(TransportNamer); ok {
		return n.TransportName()
	}
	if a := c.LocalAddr(); a != nil {
		return a.Network()
	}
	return ""
}

// logEnabled reports whether the endpoint's logger takes level; the log
// calls of the engine check it first so that a discarded line costs nothing.
func (e *endpoint[T]) logEnabled(level slog.Level) bool {
	return e.log.Enabled(context.Background(), level)
}

// logArgs returns the structured fields that every log line about a session
// carries, followed by kv.
func (s *Session[T]) logArgs(kv ...any) []any {
	return append([]any{
		"session", s.id,
		"remote", addrString(s.transportConn().RemoteAddr()),
		"transport", TransportName(s.transportConn()),
	}, kv...)
}
