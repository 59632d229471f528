package getty

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Observer watches every session of a server or client, for metrics and
// tracing adapters (package metrics/prometheus is one). Set it in
// Options.Observer; when it is nil the engine skips every hook with one nil
// check, and never reads the clock for it.
//
// The hooks run on the goroutines doing the work (the read loop, the writer,
// a pool worker) and must be quick and must not block: count, add, record.
// They may run concurrently with each other, for one session as for many;
// only OnOpen comes before any other hook of its session and OnClose after
// every other one. A hook must not panic.
//
// Embed NopObserver to implement only some hooks, or use ObserverFuncs.
type Observer interface {
	// OnOpen runs once per session, after the transport handshake (TLS, a
	// PROXY protocol header) and just before Handler.OnOpen: RemoteAddr is
	// final by then.
	OnOpen(s SessionInfo)
	// OnClose runs once for every session whose OnOpen ran, after
	// Handler.OnClose, with the cause (Session.Err) and its class.
	OnClose(s SessionInfo, cause CloseCause, err error)
	// OnError runs with every error the Handler's OnError receives, and
	// for a session whose handshake failed (it never opens: no OnOpen nor
	// OnClose follows; err is an *OpError with Op "handshake").
	OnError(s SessionInfo, err error)
	// OnRefuse runs for a connection that never became a session: refused
	// at the server's MaxSessions (err wraps ErrTooManySessions), or a
	// client dial that failed (an *OpError with Op "dial"; remote is nil).
	OnRefuse(remote net.Addr, err error)
	// OnRead runs after each read from the transport that got data: the
	// bytes read, and the packages decoded and dispatched from them.
	OnRead(s SessionInfo, bytes, packages int)
	// OnWrite runs after each write system call (or message batch) that
	// sent data: the bytes written, and the packages it completed.
	OnWrite(s SessionInfo, bytes, packages int)
	// OnHandle runs after each OnMessage (or OnPacket) call with the time
	// the handler took.
	OnHandle(s SessionInfo, d time.Duration)
}

// SessionInfo is the view of a session that observers get: the methods of
// *Session[T] that do not depend on the package type, so an adapter need
// not be generic. Every *Session[T] implements it.
type SessionInfo interface {
	ID() uint64
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	Conn() Conn
	Context() context.Context
	Err() error
	Stats() SessionStats
	Value(key any) any
}

// NopObserver implements every Observer hook as a no-op. Embed it and
// override what you need.
type NopObserver struct{}

// OnOpen does nothing.
func (NopObserver) OnOpen(SessionInfo) {}

// OnClose does nothing.
func (NopObserver) OnClose(SessionInfo, CloseCause, error) {}

// OnError does nothing.
func (NopObserver) OnError(SessionInfo, error) {}

// OnRefuse does nothing.
func (NopObserver) OnRefuse(net.Addr, error) {}

// OnRead does nothing.
func (NopObserver) OnRead(SessionInfo, int, int) {}

// OnWrite does nothing.
func (NopObserver) OnWrite(SessionInfo, int, int) {}

// OnHandle does nothing.
func (NopObserver) OnHandle(SessionInfo, time.Duration) {}

// ObserverFuncs adapts functions to an Observer. Nil fields do nothing.
type ObserverFuncs struct {
	Open   func(s SessionInfo)
	Close  func(s SessionInfo, cause CloseCause, err error)
	Error  func(s SessionInfo, err error)
	Refuse func(remote net.Addr, err error)
	Read   func(s SessionInfo, bytes, packages int)
	Write  func(s SessionInfo, bytes, packages int)
	Handle func(s SessionInfo, d time.Duration)
}

// OnOpen calls f.Open.
func (f ObserverFuncs) OnOpen(s SessionInfo) {
	if f.Open != nil {
		f.Open(s)
	}
}

// OnClose calls f.Close.
func (f ObserverFuncs) OnClose(s SessionInfo, cause CloseCause, err error) {
	if f.Close != nil {
		f.Close(s, cause, err)
	}
}

// OnError calls f.Error.
func (f ObserverFuncs) OnError(s SessionInfo, err error) {
	if f.Error != nil {
		f.Error(s, err)
	}
}

// OnRefuse calls f.Refuse.
func (f ObserverFuncs) OnRefuse(remote net.Addr, err error) {
	if f.Refuse != nil {
		f.Refuse(remote, err)
	}
}

// OnRead calls f.Read.
func (f ObserverFuncs) OnRead(s SessionInfo, bytes, packages int) {
	if f.Read != nil {
		f.Read(s, bytes, packages)
	}
}

// OnWrite calls f.Write.
func (f ObserverFuncs) OnWrite(s SessionInfo, bytes, packages int) {
	if f.Write != nil {
		f.Write(s, bytes, packages)
	}
}

// OnHandle calls f.Handle.
func (f ObserverFuncs) OnHandle(s SessionInfo, d time.Duration) {
	if f.Handle != nil {
		f.Handle(s, d)
	}
}

// CloseCause is the class of a session's close cause, for counting:
// Stats.Closed and the cause label of metrics.
type CloseCause uint8

// Close causes. Classify an error with CauseOf.
const (
	// CauseError: a read, write or decode error, a handler panic, a
	// failed dispatch: anything not listed below.
	CauseError CloseCause = iota
	// CausePeer: the peer closed or reset the connection (io.EOF,
	// io.ErrUnexpectedEOF, ECONNRESET, EPIPE, a WebSocket close frame with
	// status 1000 or 1001).
	CausePeer
	// CauseLocal: Session.Close.
	CauseLocal
	// CauseShutdown: Server.Shutdown or Close, Client.Close.
	CauseShutdown
	// CauseTimeout: ErrReadTimeout, ErrWriteTimeout, ErrHandshakeTimeout or
	// another timeout.
	CauseTimeout
	// CauseLimit: a configured limit was passed (ErrMessageTooLarge,
	// ErrTooManySessions).
	CauseLimit
	// CauseRejected: OnOpen refused the session (ErrRejected).
	CauseRejected

	numCauses = iota
)

var causeNames = [numCauses]string{"error", "peer", "local", "shutdown", "timeout", "limit", "rejected"}

// String returns the cause's metric label: "error", "peer", "local",
// "shutdown", "timeout", "limit" or "rejected".
func (c CloseCause) String() string {
	if int(c) < len(causeNames) {
		return causeNames[c]
	}
	return "error"
}

// CloseCauses lists every CloseCause, in the order of their values.
func CloseCauses() []CloseCause {
	cs := make([]CloseCause, numCauses)
	for i := range cs {
		cs[i] = CloseCause(i)
	}
	return cs
}

// CauseClassifier is implemented by errors that know their CloseCause
// better than CauseOf's rules: a transport's error type (a WebSocket close
// error, say) implements it to have its own class counted. CauseOf finds it
// anywhere in the error's chain (errors.As).
type CauseClassifier interface {
	CloseCause() CloseCause
}

// CloseCoder is implemented by errors that carry a protocol's close status:
// a WebSocket close code received from the peer or sent to it. Metrics
// adapters count the codes they find in close causes (errors.As).
type CloseCoder interface {
	CloseCode() int
}

// CauseOf classifies a close cause. A CauseClassifier in err's chain
// decides first; then the engine's sentinels (ErrRejected, ErrServerClosed,
// ErrClientClosed, ErrSessionClosed, ErrMessageTooLarge,
// ErrTooManySessions, the timeouts); then peer closes (io.EOF,
// io.ErrUnexpectedEOF, ECONNRESET, EPIPE, ECONNABORTED); anything else is
// CauseError. A nil err is CauseLocal.
func CauseOf(err error) CloseCause {
	if err == nil {
		return CauseLocal
	}
	var cc CauseClassifier
	switch {
	case errors.As(err, &cc):
		return cc.CloseCause()
	case errors.Is(err, ErrRejected):
		return CauseRejected
	case errors.Is(err, ErrServerClosed), errors.Is(err, ErrClientClosed):
		return CauseShutdown
	case errors.Is(err, ErrSessionClosed):
		return CauseLocal
	case errors.Is(err, ErrMessageTooLarge), errors.Is(err, ErrTooManySessions):
		return CauseLimit
	case isTimeout(err):
		return CauseTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return CausePeer
	}
	return CauseError
}

func isTimeout(err error) bool {
	if errors.Is(err, ErrReadTimeout) || errors.Is(err, ErrWriteTimeout) || errors.Is(err, ErrHandshakeTimeout) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// observeHandle reports the time a handler call took (deferred by dispatch
// with the start time).
func (e *endpoint[T]) observeHandle(s *Session[T], start time.Time) {
	e.obs.OnHandle(s, time.Since(start))
}

// observeWrite reports one write of n bytes out of a batch of total bytes
// and pkgs packages; the packages count only once the batch is complete.
// It runs without w.mu, so that an observer may call Session.Stats.
func (w *writer[T]) observeWrite(err error, n, total, pkgs int) {
	obs := w.sess().e.obs
	if obs == nil || err != nil || n <= 0 {
		return
	}
	if n < total {
		pkgs = 0
	}
	obs.OnWrite(w.sess(), n, pkgs)
}
