package getty

import (
	"errors"
	"fmt"
)

// Engine is the way a server or client drives its sessions.
//
//   - EngineGoroutine (the default) gives each session a goroutine that
//     reads and runs its callbacks. It serves every transport and is the
//     fastest under load.
//   - EngineEventLoop (Linux) watches every connection from a few epoll
//     loops: an idle session holds no goroutine and no read buffer, so a
//     server can hold hundreds of thousands of mostly idle connections.
//     Callbacks run on the loop goroutine (or on Options.TaskPool): a
//     callback that blocks stalls every session of its loop. It serves
//     plain TCP and Unix stream connections, compressed (package compress,
//     through FramedConn) or not; TLS, PROXY protocol,
//     WebSocket, UDP and Unix datagram or seqpacket connections are refused
//     with ErrEngineUnsupported. On other systems it falls back to
//     EngineGoroutine with a logged notice.
type Engine uint8

// Engines.
const (
	EngineGoroutine Engine = iota
	EngineEventLoop
)

// ErrEngineUnsupported is wrapped by the errors of a server or client whose
// engine cannot drive a connection or listener (TLS on EngineEventLoop).
var ErrEngineUnsupported = errors.New("getty: connection not supported by the engine")

func (e Engine) String() string {
	switch e {
	case EngineGoroutine:
		return "goroutine"
	case EngineEventLoop:
		return "eventloop"
	}
	return fmt.Sprintf("Engine(%d)", uint8(e))
}

// ParseEngine returns the engine named s ("goroutine" or "eventloop").
func ParseEngine(s string) (Engine, error) {
	switch s {
	case "goroutine", "":
		return EngineGoroutine, nil
	case "eventloop":
		return EngineEventLoop, nil
	}
	return 0, fmt.Errorf("%w: unknown engine %q (goroutine, eventloop)", ErrInvalidOptions, s)
}
