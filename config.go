package getty

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults used for zero-valued option fields.
const (
	DefaultMaxPackageSize   = 4 << 20
	DefaultReadBufferSize   = 4 << 10
	DefaultMaxReadBuffer    = 64 << 10
	DefaultMaxWriteBacklog  = 4 << 20
	DefaultWriteTimeout     = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReconnectMin     = 100 * time.Millisecond
	DefaultReconnectMax     = 30 * time.Second
	DefaultDialTimeout      = 10 * time.Second
)

// Options are the session settings shared by servers and clients. The zero
// value is ready to use: every zero field takes the default it documents.
type Options struct {
	// Logger receives structured logs. Default: discard. Every line about a
	// session carries the fields "session" (its id), "remote" and
	// "transport". The engine logs session opens and closes (with cause and
	// counters) at Debug, and at Warn or Error only what no callback
	// reports: handler panics, accept retries, refused connections, failed
	// reconnects.
	Logger *slog.Logger

	// Observer, when set, is called on session events for metrics and
	// tracing (package metrics/prometheus has one). Default nil: no hooks,
	// no cost.
	Observer Observer

	// MaxPackageSize caps one encoded package (and one transport message),
	// checked before allocation. Default DefaultMaxPackageSize (4 MiB).
	MaxPackageSize int

	// ReadBufferSize is a stream session's initial read buffer. The buffer
	// grows while reads keep filling it, up to MaxReadBufferSize (or to the
	// size of one large package), and shrinks back when traffic calms.
	// Defaults: 4 KiB and 64 KiB.
	ReadBufferSize    int
	MaxReadBufferSize int

	// ReadTimeout closes a session whose peer sent nothing for this long
	// (cause ErrReadTimeout). Default 0: no idle limit. Checked by the shared
	// timing wheel, so it costs nothing per read.
	ReadTimeout time.Duration
	// WriteTimeout closes a session when one flush to the socket stalls for
	// this long (cause ErrWriteTimeout), and bounds the final flush of a
	// graceful close. Default DefaultWriteTimeout (10 s); negative: no limit.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds a transport handshake (TLS) before OnOpen.
	// Default DefaultHandshakeTimeout (10 s); negative: no limit.
	HandshakeTimeout time.Duration
	// CronPeriod is the interval of OnCron calls. Default 0: no cron.
	CronPeriod time.Duration
	// TimerTick is the resolution of the shared timing wheel that drives
	// timeouts and cron. Default 10 ms.
	TimerTick time.Duration

	// MaxWriteBacklog bounds the bytes queued for writing on one session
	// (besides the batch being written). Past it, Write returns
	// ErrWriteQueueFull, or blocks when BlockOnBacklog is set (until the
	// backlog drains, the session closes or WriteTimeout passes). A single
	// write to an idle session is always accepted. Default 4 MiB.
	MaxWriteBacklog int
	BlockOnBacklog  bool

	// TaskPool, when set, runs OnMessage (OnPacket), OnCron and the reports
	// of non-fatal errors on the pool instead of the read loop. Default nil:
	// the read loop calls the handler itself. See TaskPool for ordering,
	// back-pressure and shutdown.
	TaskPool TaskPool

	// Engine chooses how sessions are driven: EngineGoroutine (the default)
	// or EngineEventLoop (Linux; plain TCP and Unix stream connections
	// only). See Engine and docs/eventloop.md.
	Engine Engine
	// EventLoops is the number of event loops of an EngineEventLoop server
	// or client. Default 0: one per usable CPU (GOMAXPROCS).
	EventLoops int
	// ZeroCopyReplies (EngineEventLoop, without a TaskPool, with a codec
	// that implements HeaderEncoder such as lengthfield's) sends a reply
	// whose payload still lies in the bytes a callback was given (an echo,
	// a relay of part of a request) straight from them when the callback
	// returns, instead of copying it into the write queue. The one rule it
	// adds: a callback must not modify bytes it has written. Default false:
	// every write is copied, as on the goroutine engine.
	ZeroCopyReplies bool
}

// TaskPool runs handler work away from the read loop; package taskpool has
// one. A session submits a task per package, per cron tick and per non-fatal
// error, all with one key: its id mixed with a random number of its server
// or client, so that sessions of several servers and clients sharing a pool
// do not share keys.
//
//   - A pool that runs one key's tasks in submission order and never two at
//     once (taskpool's Ordered and KeyHash modes) keeps each session's
//     callbacks ordered and apart, as without a pool. With any other pool a
//     session's callbacks may run out of order and at the same time.
//   - Submit may block: the read loop then stops reading, and TCP flow
//     control pushes back on the peer. An error from Submit ends a stream
//     or message session (an *OpError wrapping it); a packet session drops
//     the datagram instead.
//   - Cron ticks come from the shared timing wheel, which must not block:
//     they go through TrySubmit(key uint64, task func()) error when the
//     pool has it (it must never block nor run the task in the caller),
//     else through Submit on a short-lived goroutine. A refused tick is
//     skipped.
//   - Packages of a codec that implements Detacher are detached before they
//     are queued. OnOpen runs before any task; the packages read before the
//     peer closed (or a read failed) are handled before the session closes;
//     OnClose runs after every task of the session has returned. Tasks that
//     start after the session began closing skip the handler.
//   - The pool must outlive the servers and clients that use it: close it
//     after their Shutdown or Close has returned.
type TaskPool interface {
	Submit(key uint64, task func()) error
}

// ServerOptions configure a Server. The zero value is ready to use.
type ServerOptions struct {
	Options
	// MaxSessions caps concurrent sessions; a connection beyond it is closed
	// at once and counted as rejected. Default 0: no cap.
	MaxSessions int
	// MaxSessionsPerIP caps the concurrent sessions of one remote IP
	// address (IPv4-mapped IPv6 addresses count as IPv4; Unix sockets are
	// not capped); a connection beyond it is closed at once, counted as
	// rejected and reported with ErrTooManySessionsPerIP. Default 0: no
	// cap. Behind a proxy, the address is the one the transport reports
	// (the PROXY protocol's source when transport/tcp reads it).
	MaxSessionsPerIP int
	// FirstPackageTimeout closes a session whose peer has not sent one
	// whole package this long after connecting (cause
	// ErrFirstPackageTimeout): a peer that connects and stays silent, or
	// drips bytes slower than a package (slowloris), is cut off even when
	// ReadTimeout is long or off. It starts after the transport handshake,
	// which HandshakeTimeout bounds. Default 0: no deadline; servers whose
	// clients speak first should set it (a few seconds).
	FirstPackageTimeout time.Duration
}

// ClientOptions configure a Client. The zero value is ready to use.
type ClientOptions struct {
	Options
	// Connections is how many connections the client keeps open to its
	// server. Default 1.
	Connections int
	// DialTimeout bounds one dial. Default 10 s.
	DialTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the capped exponential backoff
	// (with jitter) between attempts to replace a dropped connection.
	// Defaults 100 ms and 30 s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// NoReconnect leaves dropped connections down.
	NoReconnect bool
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxPackageSize < 0 || o.ReadBufferSize < 0 || o.MaxReadBufferSize < 0 || o.MaxWriteBacklog < 0 {
		return o, fmt.Errorf("%w: sizes must not be negative", ErrInvalidOptions)
	}
	if o.ReadTimeout < 0 || o.CronPeriod < 0 || o.TimerTick < 0 {
		return o, fmt.Errorf("%w: ReadTimeout, CronPeriod and TimerTick must not be negative", ErrInvalidOptions)
	}
	if o.EventLoops < 0 || o.Engine > EngineEventLoop {
		return o, fmt.Errorf("%w: unknown Engine or negative EventLoops", ErrInvalidOptions)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxPackageSize == 0 {
		o.MaxPackageSize = DefaultMaxPackageSize
	}
	if o.ReadBufferSize == 0 {
		o.ReadBufferSize = DefaultReadBufferSize
	}
	if o.MaxReadBufferSize == 0 {
		o.MaxReadBufferSize = DefaultMaxReadBuffer
	}
	if o.MaxReadBufferSize < o.ReadBufferSize {
		o.MaxReadBufferSize = o.ReadBufferSize
	}
	if o.MaxWriteBacklog == 0 {
		o.MaxWriteBacklog = DefaultMaxWriteBacklog
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return o, nil
}

func (o ClientOptions) withDefaults() (ClientOptions, error) {
	var err error
	if o.Options, err = o.Options.withDefaults(); err != nil {
		return o, err
	}
	if o.Connections < 0 || o.DialTimeout < 0 || o.ReconnectMin < 0 || o.ReconnectMax < 0 {
		return o, fmt.Errorf("%w: client options must not be negative", ErrInvalidOptions)
	}
	if o.Connections == 0 {
		o.Connections = 1
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReconnectMin == 0 {
		o.ReconnectMin = DefaultReconnectMin
	}
	if o.ReconnectMax == 0 {
		o.ReconnectMax = DefaultReconnectMax
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = o.ReconnectMin
	}
	return o, nil
}
