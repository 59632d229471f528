package getty

import "net"

// Handler receives a session's events. One Handler value serves every
// session of a server or client.
//
// For one session, callbacks never run concurrently with each other: OnOpen
// runs first, then OnMessage, OnCron and OnError in the order things happen,
// then OnClose exactly once. (With a TaskPool that does not keep each key's
// tasks in order, OnMessage, OnCron and OnError calls of one session may
// overlap; see TaskPool.) Different sessions run their callbacks in
// parallel. Callbacks may call any Session method, including Close and
// Write; a callback that blocks delays the session's reading (or, with a
// TaskPool, the session's later callbacks and a worker of the pool).
type Handler[T any] interface {
	// OnOpen runs before the session reads anything. A non-nil error rejects
	// the session: it is closed with a cause wrapping ErrRejected and OnClose
	// follows.
	OnOpen(s *Session[T]) error
	// OnMessage handles one decoded package.
	OnMessage(s *Session[T], pkg T)
	// OnCron runs every CronPeriod while the session is open: the place for
	// heartbeats.
	OnCron(s *Session[T])
	// OnError reports an error. The error that ends a session is reported
	// exactly once, just before OnClose; non-fatal errors (a bad datagram, a
	// panic in a pooled task) may be reported while the session stays open.
	OnError(s *Session[T], err error)
	// OnClose runs exactly once for every session whose OnOpen ran, whatever
	// the cause; Session.Err tells the cause.
	OnClose(s *Session[T])
}

// PacketHandler is implemented by handlers that want the sender of each
// package on packet sessions (UDP, Unix datagram). When the handler has it,
// the engine calls OnPacket instead of OnMessage for packages that came with
// an address.
type PacketHandler[T any] interface {
	OnPacket(s *Session[T], pkg T, from net.Addr)
}

// NopHandler implements every Handler method as a no-op. Embed it and
// override what you need.
type NopHandler[T any] struct{}

// OnOpen accepts the session.
func (NopHandler[T]) OnOpen(*Session[T]) error { return nil }

// OnMessage ignores the package.
func (NopHandler[T]) OnMessage(*Session[T], T) {}

// OnCron does nothing.
func (NopHandler[T]) OnCron(*Session[T]) {}

// OnError ignores the error.
func (NopHandler[T]) OnError(*Session[T], error) {}

// OnClose does nothing.
func (NopHandler[T]) OnClose(*Session[T]) {}

// HandlerFuncs adapts functions to a Handler (and a PacketHandler). Nil
// fields do nothing, except Packet: when it is nil, packages that came with
// an address go to Message.
type HandlerFuncs[T any] struct {
	Open    func(s *Session[T]) error
	Message func(s *Session[T], pkg T)
	Packet  func(s *Session[T], pkg T, from net.Addr)
	Cron    func(s *Session[T])
	Error   func(s *Session[T], err error)
	Close   func(s *Session[T])
}

// OnOpen calls h.Open.
func (h HandlerFuncs[T]) OnOpen(s *Session[T]) error {
	if h.Open != nil {
		return h.Open(s)
	}
	return nil
}

// OnMessage calls h.Message.
func (h HandlerFuncs[T]) OnMessage(s *Session[T], pkg T) {
	if h.Message != nil {
		h.Message(s, pkg)
	}
}

// OnPacket calls h.Packet, or h.Message when Packet is nil.
func (h HandlerFuncs[T]) OnPacket(s *Session[T], pkg T, from net.Addr) {
	switch {
	case h.Packet != nil:
		h.Packet(s, pkg, from)
	case h.Message != nil:
		h.Message(s, pkg)
	}
}

// OnCron calls h.Cron.
func (h HandlerFuncs[T]) OnCron(s *Session[T]) {
	if h.Cron != nil {
		h.Cron(s)
	}
}

// OnError calls h.Error.
func (h HandlerFuncs[T]) OnError(s *Session[T], err error) {
	if h.Error != nil {
		h.Error(s, err)
	}
}

// OnClose calls h.Close.
func (h HandlerFuncs[T]) OnClose(s *Session[T]) {
	if h.Close != nil {
		h.Close(s)
	}
}
